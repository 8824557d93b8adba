"""``simreal train``: source training in simulation as one resumable run.

Stages, each saved as it completes (so ``resume`` loses at most one interval):
1. head data: expert grasps with exploration, relabeled, in chunks of episodes;
2. head fit: supervised fit of the control head (hindsight relabeling);
3. DAgger iterations of the high level with the frozen head inside the env;
4. PPO fine-tuning chunks (kept only if validation success does not drop);
5. final evaluation on held-out seeds and the exported hierarchical checkpoint.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from stable_baselines3.common.logger import configure

from .. import assets
from ..atomic import replacing, write_json
from ..evaluation import EvaluationResult, evaluate
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.head import ControlHead, HeadConfig, head_controller
from ..options import option
from ..plots import learning_curve
from .high_level import HighLevelTrainConfig, HighLevelTrainer, make_grasp_env
from .relabel import FitConfig, RelabeledData
from .source_head import collect_head_data, tracking_report, train_head

Progress = Callable[[str, float], None]


@dataclass
class TrainConfig:
    """Train a source policy (control head + high level) in simulation."""

    robot: str = option("panda", "robot name or YAML path")
    randomization: str = option("default", "randomization file used throughout training")
    seed: int = option(0, "seed of every random choice in the run")
    run_dir: str = option("runs/train", "run folder: checkpoints, metrics.json, learning_curve.png, tb/")
    head_episodes: int = option(1200, "expert episodes collected for the control head")
    head_chunk: int = option(200, "episodes per saved chunk of head data")
    head_epochs: int = option(40, "supervised epochs for the control head")
    dagger_scale: float = option(1.0, "multiplies the episodes of every DAgger iteration")
    rl_steps: int = option(20_000, "PPO fine-tuning steps after DAgger (0 to skip)")
    rl_chunk: int = option(5_000, "PPO steps between validations and saved checkpoints")
    validation_episodes: int = option(50, "seeded validation episodes after each DAgger iteration / PPO chunk")
    eval_episodes: int = option(200, "held-out seeded episodes for the final evaluation")
    eval_seed: int = option(1_000_000, "seed of the first held-out evaluation episode")
    report_episodes: int = option(50, "episodes of the head tracking report (IK vs head)")
    resume: bool = option(False, "continue the run in run_dir after an interruption")


class RunFolder:
    """Files of a run; JSON and arrays are written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "checkpoints").mkdir(exist_ok=True)

    def write_json(self, name: str, data: dict) -> None:
        write_json(self.root / name, data)

    def read_json(self, name: str) -> dict | None:
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else None

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        with replacing(self.root / "data" / f"{name}.npz") as tmp:
            np.savez(tmp, **arrays)

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.root / "data" / f"{name}.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        with replacing(self.root / "checkpoints" / f"{name}.safetensors") as tmp:
            safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))

    def load_tensors(self, name: str) -> dict[str, torch.Tensor]:
        return safetensors.torch.load_file(str(self.root / "checkpoints" / f"{name}.safetensors"))


@dataclass
class TrainResult:
    policy: HierarchicalPolicy
    final: EvaluationResult
    metrics: dict
    checkpoint: Path


def _point(stage: str, steps: int, start: float, result: EvaluationResult) -> dict:
    low, high = result.interval
    return {"stage": stage, "env_steps": steps, "wall_time": time.time() - start,
            "success": result.success_rate, "low": low, "high": high}


def train(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Run (or resume) source training; see the module docstring for the stages."""
    note = progress or (lambda stage, fraction: None)
    torch.set_num_threads(1)
    folder = RunFolder(Path(config.run_dir))
    state = _start_state(folder, config)
    spec = assets.robot_spec(config.robot)
    head = _head_stage(folder, config, state, spec.dof, note)
    trainer = HighLevelTrainer(head, config.robot, config.randomization, config.seed,
                               _high_level_config(config), tensorboard_log=str(folder.root / "tb"))
    logger = configure(str(folder.root / "tb" / "source"), ["csv", "tensorboard"])
    try:
        _dagger_stage(folder, config, state, trainer, logger, note)
        _rl_stage(folder, config, state, trainer, logger, note)
        return _finish(folder, config, state, trainer, head, spec, note)
    finally:
        trainer.close()


def _start_state(folder: RunFolder, config: TrainConfig) -> dict:
    previous = folder.read_json("progress.json")
    if previous is not None and not config.resume:
        raise FileExistsError(f"{folder.root} already holds a run; pass --resume to continue it, "
                              "or choose another --run-dir")
    if previous is not None:
        if previous["config"] != {**asdict(config), "resume": previous["config"]["resume"]}:
            raise ValueError(f"{folder.root} was started with other options: {previous['config']}")
        previous["started"] = time.time() - previous["elapsed"]  # wall time counts working time only
        return previous
    state = {"config": asdict(config), "head_chunks": 0, "head_fitted": False, "dagger": 0, "rl_chunks": 0,
             "curve": [], "started": time.time(), "elapsed": 0.0, "command": sys.argv}
    folder.write_json("config.json", asdict(config))
    _save_progress(folder, state)
    return state


def _save_progress(folder: RunFolder, state: dict) -> None:
    state["elapsed"] = time.time() - state["started"]
    folder.write_json("progress.json", state)


def _head_stage(folder: RunFolder, config: TrainConfig, state: dict, dof: int, note: Progress) -> ControlHead:
    chunks = -(-config.head_episodes // config.head_chunk)
    while state["head_chunks"] < chunks:
        k = state["head_chunks"]
        note("head data", k / chunks)
        episodes = min(config.head_chunk, config.head_episodes - k * config.head_chunk)
        data = collect_head_data(config.robot, episodes, config.seed * 1_000_003 + k * config.head_chunk,
                                 config.randomization)
        folder.save_arrays(f"head_{k}", inputs=data.inputs, targets=data.targets)
        state["head_chunks"] += 1
        state["env_steps"] = state.get("env_steps", 0) + len(data)
        _save_progress(folder, state)
    head = ControlHead(dof, HeadConfig())
    if state["head_fitted"]:
        head.load_state_dict(folder.load_tensors("head"))
        return head.eval()
    note("head fit", 0.0)
    parts = [folder.load_arrays(f"head_{k}") for k in range(chunks)]
    data = RelabeledData(np.concatenate([p["inputs"] for p in parts]), np.concatenate([p["targets"] for p in parts]))
    head, fit = train_head(data, dof, config.seed, fit=FitConfig(epochs=config.head_epochs))
    folder.save_tensors("head", head.state_dict())
    state["head_fitted"], state["head_fit"] = True, fit
    _save_progress(folder, state)
    return head.eval()


def _high_level_config(config: TrainConfig) -> HighLevelTrainConfig:
    base = HighLevelTrainConfig()
    schedule = tuple((max(1, round(n * config.dagger_scale)), beta) for n, beta in base.dagger_schedule)
    return HighLevelTrainConfig(dagger_schedule=schedule, rl_steps=config.rl_steps, rl_chunk=config.rl_chunk,
                                validation_episodes=config.validation_episodes)


def _dagger_stage(folder: RunFolder, config: TrainConfig, state: dict, trainer: HighLevelTrainer,
                  logger: Any, note: Progress) -> None:
    schedule = trainer.config.dagger_schedule
    trainer.env_steps = state.get("env_steps", 0)  # head data steps count too
    if state["dagger"]:
        arrays = folder.load_arrays("dagger")
        trainer.observations, trainer.actions = arrays["observations"], arrays["actions"]
        trainer.load_state(folder.load_tensors("high_level"))
    start = state["started"]
    while state["dagger"] < len(schedule):
        i = state["dagger"]
        note("DAgger", i / len(schedule))
        loss = trainer.dagger_iteration(i)
        result = trainer.validate()
        state["curve"].append(_point(f"dagger {i}", trainer.env_steps, start, result))
        _log(logger, trainer.env_steps, {"dagger/bc_loss": loss, "dagger/success": result.success_rate})
        folder.save_arrays("dagger", observations=trainer.observations, actions=trainer.actions)
        folder.save_tensors("high_level", trainer.state())
        state["dagger"], state["env_steps"] = i + 1, trainer.env_steps
        _save_progress(folder, state)


def _rl_stage(folder: RunFolder, config: TrainConfig, state: dict, trainer: HighLevelTrainer,
              logger: Any, note: Progress) -> None:
    chunks = config.rl_steps // trainer.config.rl_chunk
    if state["rl_chunks"]:
        trainer.load_state(folder.load_tensors("high_level"))
        trainer.env_steps = state["env_steps"]
    elif chunks:
        folder.save_tensors("high_level_dagger", trainer.state())
        state["dagger_success"] = state["curve"][-1]["success"]
    while state["rl_chunks"] < chunks:
        k = state["rl_chunks"]
        note("PPO fine-tune", k / chunks)
        trainer.rl_chunk(k, logger)
        result = trainer.validate()
        state["curve"].append(_point(f"ppo {k}", trainer.env_steps, state["started"], result))
        _log(logger, trainer.env_steps, {"ppo/success": result.success_rate})
        folder.save_tensors("high_level", trainer.state())
        state["rl_chunks"], state["env_steps"] = k + 1, trainer.env_steps
        _save_progress(folder, state)
    if chunks and state["curve"][-1]["success"] < state["dagger_success"]:
        # PPO made validation success worse: keep the DAgger policy (saved before RL began)
        state["rl_kept"] = False
        trainer.load_state(folder.load_tensors("high_level_dagger"))
    elif chunks:
        state["rl_kept"] = True


def _log(logger: Any, step: int, values: dict[str, float]) -> None:
    for key, value in values.items():
        logger.record(key, value)
    logger.dump(step)


def _finish(folder: RunFolder, config: TrainConfig, state: dict, trainer: HighLevelTrainer,
            head: ControlHead, spec: Any, note: Progress) -> TrainResult:
    note("evaluation", 0.0)
    policy = HierarchicalPolicy(trainer.export(), head, spec)
    env = make_grasp_env(head, config.robot, config.randomization)
    final = evaluate(env, policy.act, config.eval_episodes, config.eval_seed)
    env.close()
    note("tracking report", 0.0)
    tracking = {
        label: {name: asdict(tracking_report(ctrl, config.robot, randomization, config.report_episodes,
                                             config.eval_seed))
                for name, ctrl in (("ik", None), ("head", head_controller(head)))}
        for label, randomization in (("nominal", None), ("randomized", config.randomization))
    }
    wall = time.time() - state["started"]
    low, high = final.interval
    metrics = {
        "success_rate": final.success_rate, "success_interval_95": [low, high], "eval_episodes": final.episodes,
        "eval_seed": config.eval_seed, "env_steps": state.get("env_steps", 0), "wall_time_s": wall,
        "head_fit": state.get("head_fit"), "rl_kept": state.get("rl_kept"),
        "tracking": tracking, "curve": state["curve"],
    }
    randomization = asdict(assets.randomization_spec(config.randomization))
    path = policy.save(folder.root / "final", metrics=metrics, seed=config.seed, command=state["command"],
                       randomization=randomization, extra={"train_config": asdict(config)})
    folder.write_json("metrics.json", metrics)
    if state["curve"]:
        learning_curve(state["curve"], folder.root / "learning_curve.png", f"source training: {config.robot}")
    return TrainResult(policy, final, metrics, path)
