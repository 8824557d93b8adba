"""``simreal train``: source training in simulation as one resumable run.

Stages, each saved as it completes (so ``resume`` loses at most one interval):
1. head data: expert grasps with exploration, relabeled, in chunks of episodes;
2. head fit: supervised fit of the control head (hindsight relabeling); a
   reference-anchored head's correction is kept only if it validates better than the
   reference controller alone (zero correction), a tie decided on a broader draw;
3. DAgger iterations of the high level with the frozen head inside the env (starting from
   another policy's high level with ``init_high_level``; with it frozen, no DAgger or PPO);
4. PPO fine-tuning chunks (kept only if validation success does not drop);
5. online adaptation (``--online``), RMA's two phases in simulation (``learn.online``):
   the latent-conditioned head with its encoder, then the adaptation module;
6. final evaluation on held-out seeds and the exported hierarchical checkpoint.

Every stage's wall time and CPU time go to ``metrics.json`` (``phases``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from stable_baselines3.common.logger import configure

from .. import assets
from ..atomic import replacing, write_json
from ..envs import grasp_layout, task_layout, time_limited_grasp_env
from ..kernels import kernel_settings
from ..evaluation import EvaluationResult, evaluate
from ..families import FamilyRandomizer
from ..sim.randomizer import Randomizer
from ..policy import ScriptedGraspExpert
from ..policy.head import ANCHORS, ControlHead, HeadConfig, head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.latent import AdaptationModule, LatentEncoder, OnlineModule
from ..options import option
from ..plots import learning_curve
from .episode_workers import EpisodeWorkers, check_n_envs, identity
from .high_level_init import InitialHighLevel, load_initial_high_level
from .high_level import HighLevelTrainConfig, HighLevelTrainer, make_grasp_env
from .online import OnlineTrainConfig, collect_latent_data, fit_latent_head, train_adaptation
from .relabel import FitConfig, RelabeledData
from .source_head import collect_head_data, reference_controller, tracking_report, train_head

Progress = Callable[[str, float], None]


REUSE = ("fine-tune", "frozen")  # what --init-high-level does with the high level it starts from


@dataclass
class TrainConfig:
    """Train a source policy (control head + high level) in simulation."""

    robot: str = option("panda", "robot name or YAML path")
    randomization: str = option("latency", "randomization file used throughout training (latency: the default "
                                           "ranges plus 0-4 steps of command delay and 0-1 of jitter)")
    head_anchor: str = option("reference", "what the head's joint targets are relative to: 'reference' (a joint "
                                           "reference integrating the commands; survives command delay) or "
                                           "'measured' (the measured joints, the first shipped policy's)")
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
    online: bool = option(True, "also train RMA-style online adaptation (needs --head-anchor reference)")
    online_family: str = option("broad", "target family the online module is trained under (broad randomization)")
    online_episodes: int = option(800, "phase 1: expert episodes for the latent-conditioned head")
    online_rollouts: int = option(150, "phase 2: policy episodes per round (2 rounds: true latent, then estimates)")
    online_eval_episodes: int = option(50, "held-out episodes of the online policy in simulation")
    init_high_level: str = option("", "start the high level from this policy's: a shipped policy name or a "
                                      "checkpoint folder, of this robot or another (the high level speaks task "
                                      "space; the control head is trained anew either way)")
    high_level_reuse: str = option("fine-tune", "with --init-high-level: 'fine-tune' (DAgger and PPO continue "
                                                "from it) or 'frozen' (used as it is: no DAgger, no PPO)")
    n_envs: int = option(1, "environments in worker processes: the head data's chunks are collected on this "
                            "many (the same data for any number) and PPO steps this many envs at once (one "
                            "rollout of 1024 steps is split between them, so PPO's result depends on it)")
    resume: bool = option(False, "continue the run in run_dir after an interruption")

    def __post_init__(self) -> None:
        check_n_envs(self.n_envs, "train options")
        if self.head_anchor not in ANCHORS:
            raise ValueError(f"--head-anchor must be one of {', '.join(ANCHORS)}, got {self.head_anchor!r}")
        if self.online and self.head_anchor != "reference":
            raise ValueError("--online needs --head-anchor reference (pass --no-online for a measured head)")
        if self.high_level_reuse not in REUSE:
            raise ValueError(f"--high-level-reuse must be one of {', '.join(REUSE)}, got {self.high_level_reuse!r}")


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
    initial = load_initial_high_level(config.init_high_level, _head_config(config)) if config.init_high_level else None
    head = _head_stage(folder, config, state, spec.dof, note)
    trainer = _high_level_trainer(folder, config, state, head, initial)
    logger = configure(str(folder.root / "tb" / "source"), ["csv", "tensorboard"])
    try:
        with _phase(state, "DAgger"):
            _dagger_stage(folder, config, state, trainer, logger, note)
        with _phase(state, "PPO"):
            _rl_stage(folder, config, state, trainer, logger, note)
        online = _online_stage(folder, config, state, trainer, head, note) if config.online else None
        return _finish(folder, config, state, trainer, head, spec, note, online)
    finally:
        trainer.close()


def _high_level_trainer(folder: RunFolder, config: TrainConfig, state: dict, head: ControlHead,
                        initial: InitialHighLevel | None) -> HighLevelTrainer:
    """The high level's trainer over ``head``: its view of the observation, its expert, and
    (with ``--init-high-level``) the weights it starts from."""
    reference = head.config.anchor == "reference"
    layout = grasp_layout() if reference else task_layout()  # a measured head's high level: the first policy's view
    if initial is not None:
        layout = initial.layout
        state["high_level_init"] = {**initial.describe(), "reuse": config.high_level_reuse}
    # the predictive expert needs to see the commands in flight; a view without them gets the plain one
    predictive = reference and "ee_reference_offset" in layout.names
    expert = ScriptedGraspExpert(head.config.max_displacement, predictive=predictive, layout=layout)
    trainer = HighLevelTrainer(head, config.robot, config.randomization, config.seed,
                               _high_level_config(config, initial), tensorboard_log=str(folder.root / "tb"),
                               expert=expert, layout=layout)
    if initial is not None and not (state["dagger"] or state["rl_chunks"]):
        initial.policy.copy_to_sb3(trainer.model.policy)
    return trainer


@contextmanager
def _phase(state: dict, name: str) -> Iterator[None]:
    """Add the block's wall and CPU seconds to ``state["phases"][name]`` (kept across resumes)."""
    wall, cpu = time.time(), time.process_time()
    try:
        yield
    finally:
        spent = state.setdefault("phases", {}).setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
        spent["wall_s"] += time.time() - wall
        spent["cpu_s"] += time.process_time() - cpu


def _start_state(folder: RunFolder, config: TrainConfig) -> dict:
    previous = folder.read_json("progress.json")
    if previous is not None and not config.resume:
        raise FileExistsError(f"{folder.root} already holds a run; pass --resume to continue it, "
                              "or choose another --run-dir")
    if previous is not None:
        if {"n_envs": 1, **previous["config"]} != {**asdict(config), "resume": previous["config"]["resume"]}:
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
    head_config = _head_config(config)
    with _phase(state, "head data"):
        for k, data in _head_chunks(config, head_config, range(state["head_chunks"], chunks)):
            note("head data", (k + 1) / chunks)
            folder.save_arrays(f"head_{k}", inputs=data.inputs, targets=data.targets)
            state["head_chunks"] += 1
            state["env_steps"] = state.get("env_steps", 0) + len(data)
            _save_progress(folder, state)
    head = ControlHead(dof, head_config)
    if state["head_fitted"]:
        head.load_state_dict(folder.load_tensors("head"))
        return head.eval()
    note("head fit", 0.0)
    with _phase(state, "head fit"):
        parts = [folder.load_arrays(f"head_{k}") for k in range(chunks)]
        data = RelabeledData(np.concatenate([p["inputs"] for p in parts]),
                             np.concatenate([p["targets"] for p in parts]))
        head, fit = train_head(data, dof, config.seed, head_config, fit=FitConfig(epochs=config.head_epochs))
        if head_config.anchor == "reference":
            head, fit["kept"] = _fitted_or_reference(head, config)
    folder.save_tensors("head", head.state_dict())
    state["head_fitted"], state["head_fit"] = True, fit
    _save_progress(folder, state)
    return head.eval()


def _head_config(config: TrainConfig) -> HeadConfig:
    return HeadConfig(anchor=config.head_anchor)


def _head_chunk(task: tuple[TrainConfig, HeadConfig, int]) -> RelabeledData:
    """Chunk ``k`` of the head data: its episodes and seeds depend on ``k`` alone."""
    config, head_config, k = task
    episodes = min(config.head_chunk, config.head_episodes - k * config.head_chunk)
    return collect_head_data(config.robot, episodes, config.seed * 1_000_003 + k * config.head_chunk,
                             config.randomization, head_config)


def _head_chunks(config: TrainConfig, head_config: HeadConfig, indices: range) -> Iterator[tuple[int, RelabeledData]]:
    """The chunks ``indices`` in order, collected on ``config.n_envs`` processes (the same data for any number)."""
    tasks = [(config, head_config, k) for k in indices]
    if config.n_envs == 1 or len(tasks) < 2:
        yield from ((task[2], _head_chunk(task)) for task in tasks)
        return
    workers = EpisodeWorkers(min(config.n_envs, len(tasks)), identity, _head_chunk)
    try:
        yield from zip(indices, workers.map(tasks), strict=True)
    finally:
        workers.close()


def _fitted_or_reference(head: ControlHead, config: TrainConfig) -> tuple[ControlHead, dict]:
    """Keep the fitted correction only if it shows that it helps: hindsight labels taken in
    contact (fingers on the table or the object) can bias a correction where precision
    matters, and a correction is one more thing that can fail on a robot it was not fitted
    on. The predictive expert drives over each candidate on the training randomization;
    when both score the same there, a broader draw (``online_family``, the robots the
    toolkit expects to meet) decides, and a tie there too keeps the reference controller
    alone (zero correction), the simpler of the two."""
    expert = ScriptedGraspExpert(head.config.max_displacement, predictive=True)
    seed = HighLevelTrainConfig().validation_seed
    reference = ControlHead(head.dof, head.config).zero_output_().eval()
    candidates = {"fitted": head, "reference": reference}
    randomizations: list[tuple[str, str | Randomizer | None]] = [("validation", config.randomization)]
    if config.online_family:
        spec = assets.robot_spec(config.robot)
        randomizations.append(("broad", FamilyRandomizer(config.online_family, spec.dof)))
    scores: dict[str, dict[str, float]] = {}
    for label, randomization in randomizations:
        scores[label] = {name: _validation_success(candidate, config, randomization, expert, seed)
                         for name, candidate in candidates.items()}
        if scores[label]["fitted"] != scores[label]["reference"]:
            break
    last = scores[label]
    kept = "fitted" if last["fitted"] > last["reference"] else "reference"
    return candidates[kept], {"head": kept, **scores}


def _validation_success(head: ControlHead, config: TrainConfig, randomization: str | Randomizer | None,
                        expert: ScriptedGraspExpert, seed: int) -> float:
    env = make_grasp_env(head, config.robot, randomization)
    try:
        return evaluate(env, expert, config.validation_episodes, seed).success_rate
    finally:
        env.close()


def _high_level_config(config: TrainConfig, initial: InitialHighLevel | None = None) -> HighLevelTrainConfig:
    base = HighLevelTrainConfig()
    schedule = tuple((max(1, round(n * config.dagger_scale)), beta) for n, beta in base.dagger_schedule)
    rl_steps = config.rl_steps
    if initial is not None and config.high_level_reuse == "frozen":
        schedule, rl_steps = (), 0
    hidden = initial.policy.config.hidden if initial is not None else base.hidden
    return HighLevelTrainConfig(dagger_schedule=schedule, rl_steps=rl_steps, rl_chunk=config.rl_chunk,
                                validation_episodes=config.validation_episodes, n_envs=config.n_envs,
                                hidden=hidden)


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
    chunks = trainer.config.rl_steps // trainer.config.rl_chunk
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


def _online_stage(folder: RunFolder, config: TrainConfig, state: dict, trainer: HighLevelTrainer,
                  head: ControlHead, note: Progress) -> OnlineModule:
    """RMA's phase 1 (latent head and encoder) and phase 2 (adaptation module), each saved."""
    online = OnlineTrainConfig(family=config.online_family, episodes=config.online_episodes,
                               rollouts=config.online_rollouts)
    dof, seed = head.dof, config.seed * 1_000_003 + 7_000_000
    latent_config = replace(head.config, latent=online.latent.size)
    online_head, encoder = ControlHead(dof, latent_config), LatentEncoder(dof, online.latent)
    if not state.get("online_head"):
        note("online: phase 1", 0.0)
        with _phase(state, "online phase 1 (latent head)"):
            data, privileged = collect_latent_data(config.robot, head.config, online, seed)
            online_head, encoder, fit = fit_latent_head(data, privileged, dof, head.config, online, config.seed)
        folder.save_tensors("online_head", online_head.state_dict())
        folder.save_tensors("latent_encoder", encoder.state_dict())
        state["online_head"], state["env_steps"] = fit, state.get("env_steps", 0) + len(data)
        _save_progress(folder, state)
    online_head.load_state_dict(folder.load_tensors("online_head"))
    encoder.load_state_dict(folder.load_tensors("latent_encoder"))
    module = AdaptationModule(dof, online.latent)
    if not state.get("adaptation_module"):
        with _phase(state, "online phase 2 (adaptation module)"):
            module, fit = train_adaptation(trainer.export().act, online_head.eval(), encoder.eval(), config.robot,
                                           online, seed + 1, lambda f: note("online: phase 2", f))
        folder.save_tensors("adaptation_module", module.state_dict())
        state["adaptation_module"] = fit
        state["env_steps"] += online.rounds * online.rollouts * 50  # at most; episodes end early on success
        _save_progress(folder, state)
    module.load_state_dict(folder.load_tensors("adaptation_module"))
    return OnlineModule(online_head.eval(), encoder.eval(), module.eval())


def _finish(folder: RunFolder, config: TrainConfig, state: dict, trainer: HighLevelTrainer,
            head: ControlHead, spec: Any, note: Progress, online: OnlineModule | None) -> TrainResult:
    note("evaluation", 0.0)
    with _phase(state, "evaluation"):
        policy = HierarchicalPolicy(trainer.export(), head, spec, trainer.layout, online=online)
        env = make_grasp_env(head, config.robot, config.randomization)
        final = evaluate(env, policy.act, config.eval_episodes, config.eval_seed)
        env.close()
        online_result = None
        if online is not None:
            env = time_limited_grasp_env(robot=config.robot, randomization=config.randomization,
                                         controller=online.controller_factory())
            online_result = evaluate(env, policy.act, config.online_eval_episodes, config.eval_seed)
            env.close()
    note("tracking report", 0.0)
    with _phase(state, "tracking report"):
        tracking = _tracking(config, head)
    wall = time.time() - state["started"]
    low, high = final.interval
    metrics = {
        "success_rate": final.success_rate, "success_interval_95": [low, high], "eval_episodes": final.episodes,
        "eval_seed": config.eval_seed, "env_steps": state.get("env_steps", 0), "wall_time_s": wall,
        "head_fit": state.get("head_fit"), "rl_kept": state.get("rl_kept"),
        "high_level_init": state.get("high_level_init"),
        "tracking": tracking, "curve": state["curve"], "phases": state.get("phases", {}),
    }
    if online_result is not None:
        metrics["online"] = {"success_rate": online_result.success_rate, "interval_95": list(online_result.interval),
                             "episodes": online_result.episodes, "latent_head_fit": state.get("online_head"),
                             "adaptation_module_fit": state.get("adaptation_module")}
    randomization = asdict(assets.randomization_spec(config.randomization))
    extra = {"train_config": asdict(config), "kernels": kernel_settings()}
    path = policy.save(folder.root / "final", metrics=metrics, seed=config.seed, command=state["command"],
                       randomization=randomization, extra=extra)
    folder.write_json("metrics.json", metrics)
    if state["curve"]:
        learning_curve(state["curve"], folder.root / "learning_curve.png", f"source training: {config.robot}")
    return TrainResult(policy, final, metrics, path)


def _tracking(config: TrainConfig, head: ControlHead) -> dict:
    """Scripted expert through the analytic controller vs the head, nominal and randomized."""
    reference = head.config.anchor == "reference"
    analytic = reference_controller(head.config) if reference else None
    return {
        label: {name: asdict(tracking_report(ctrl, config.robot, randomization, config.report_episodes,
                                             config.eval_seed, predictive=reference))
                for name, ctrl in (("ik", analytic), ("head", head_controller(head)))}
        for label, randomization in (("nominal", None), ("randomized", config.randomization))
    }
