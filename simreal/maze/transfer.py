"""Transfer modes for the maze DQN, one entry point: :func:`build_agent` and :func:`train_run`.

* ``scratch``: every layer freshly initialised (the baseline).
* ``frozen``: the source's feature layers, frozen; a fresh Q-head learns.
* ``lower-lr``: the source's feature layers learn at ``feature_lr_scale`` x the rate; fresh Q-head.
* ``finetune``: the whole source network (features and Q-head) keeps learning at the full rate.
* ``progressive``: a new column with lateral connections from the frozen source column; fresh Q-head.

Only ``finetune`` reuses the source's Q-head, so only it needs the same actions; every mode
that reuses features needs the same observation channels and image shape (:func:`check_fits`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..evaluation import EvaluationResult
from ..specs.maze import MazeSpec
from .agent import GreedyEvaluator, MazeDQN, build_dqn, learn_with_curve, set_layer_rates
from .checkpoint import MazeWeights, check_fits
from .options import MODES, DQNOptions, Schedule

def _strip(state: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in state.items()}


def build_agent(spec: MazeSpec, mode: str, options: DQNOptions, seed: int, source: MazeWeights | None = None,
                feature_lr_scale: float = 0.1) -> MazeDQN:
    """A DQN on ``spec`` set up for ``mode`` from ``source`` (None only for ``scratch``)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "scratch":
        return build_dqn(spec, options, seed)
    if source is None:
        raise ValueError(f"mode '{mode}' needs a source checkpoint")
    check_fits(source, spec, actions=mode == "finetune")
    if source.architecture.get("type") != "cnn":
        raise ValueError(f"the source's feature layers are a {source.architecture.get('type')!r} network; "
                         "transfer reads a plain 'cnn' source")
    shape = {"channels": options.channels, "features_dim": options.features_dim}
    source_shape = {"channels": ",".join(map(str, source.architecture["channels"])),
                    "features_dim": source.architecture["features_dim"]}
    if shape != source_shape:
        raise ValueError(f"the DQN options' feature layers {shape} differ from the source's {source_shape}")
    if mode == "progressive":
        model = build_dqn(spec, options, seed, "progressive", {"source": source.features})
    else:
        model = build_dqn(spec, options, seed)
        model.q_net.features_extractor.load_state_dict(source.features)
        if mode == "finetune":
            model.q_net.q_net.load_state_dict(source.q_head)
    model.q_net_target.load_state_dict(model.q_net.state_dict())
    if mode == "frozen":
        model.q_net.features_extractor.freeze()
        model.q_net_target.features_extractor.freeze()
    scale = feature_lr_scale if mode == "lower-lr" else 1.0
    set_layer_rates(model, [(model.q_net.features_extractor, scale)])
    return model


@dataclass(frozen=True)
class RunResult:
    """One training run: its validation curve, the held-out evaluation at the end, and its wall time."""

    layout: str
    mode: str
    seed: int
    steps: int
    curve: tuple[tuple[int, float], ...]
    final: EvaluationResult
    wall_s: float

    def to_json(self) -> dict:
        f = self.final
        return {"layout": self.layout, "mode": self.mode, "seed": self.seed, "steps": self.steps,
                "curve": [list(p) for p in self.curve], "wall_s": self.wall_s,
                "final": {"episodes": f.episodes, "successes": f.successes, "mean_length": f.mean_length,
                          "mean_return": f.mean_return}}

    @classmethod
    def from_json(cls, data: dict) -> RunResult:
        return cls(data["layout"], data["mode"], data["seed"], data["steps"],
                   tuple((int(s), float(v)) for s, v in data["curve"]), EvaluationResult(**data["final"]),
                   data["wall_s"])


def train_run(spec: MazeSpec, mode: str, options: DQNOptions, seed: int, schedule: Schedule,
              source: MazeWeights | None = None, feature_lr_scale: float = 0.1,
              note: Callable[[int, float], None] | None = None) -> tuple[RunResult, MazeDQN]:
    """Build the agent for ``mode``, train it with a validation curve, evaluate it on held-out episodes."""
    start = time.perf_counter()
    model = build_agent(spec, mode, options, seed, source, feature_lr_scale)
    points = learn_with_curve(model, spec, schedule.steps, schedule.eval_every, schedule.validation_episodes,
                              schedule.validation_seed, note)
    final = GreedyEvaluator(spec, schedule.eval_episodes, schedule.eval_seed)(model.q_net)
    curve = tuple((steps, result.success_rate) for steps, result in points)
    return RunResult(spec.name, mode, seed, schedule.steps, curve, final, time.perf_counter() - start), model


__all__ = ["RunResult", "build_agent", "train_run"]
