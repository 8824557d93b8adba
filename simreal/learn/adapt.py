"""Adaptation: retrain the control head on a target robot with the high level frozen.

``adapt()`` is the one entry point for every method; it measures the transfer honestly
(in-sim, zero-shot, adapted and from-scratch success with 95 % Wilson intervals on the
same seeded target episodes, plus jumpstart, time-to-threshold and transfer ratio) and
keeps the source head when the adapted one is not better than zero-shot with
confidence (negative transfer).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import assets, pretrained
from ..atomic import write_json
from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..options import option
from ..policy.head import ControlHead, head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.progressive import ProgressiveHead
from ..policy.residual import ResidualHead
from ..targets import open_target
from .exploration import ExplorationConfig, collect_transitions
from .finetune_rl import HeadPPO
from .relabel import FitConfig, RelabeledData, fit_head, relabel
from .transfer import better_with_confidence, time_to_threshold, transfer_ratio

METHODS = ("relabel", "residual", "progressive", "finetune-rl", "online")
METHOD_DEFAULTS = {
    "relabel": {"epochs": 40, "learning_rate": 3e-4},
    "residual": {"epochs": 15, "learning_rate": 1e-3},
    "progressive": {"epochs": 15, "learning_rate": 1e-3},
    "finetune-rl": {"epochs": 0, "learning_rate": 1e-4},
    "online": {"epochs": 0, "learning_rate": 0.0},  # no gradient steps: see learn.online_adapt
}
ADAPTER_METHODS = {"residual": ResidualHead, "progressive": ProgressiveHead}


@dataclass
class AdaptConfig:
    """Adapt a policy's control head to a target robot (high level frozen)."""

    policy: str = option("panda_grasp", "shipped policy name or checkpoint folder")
    target: str = option("weak_motors", "target profile name or path to a profile YAML")
    budget: int = option(2000, "target transitions (control steps) the adaptation may use")
    method: str = option("relabel", "relabel (fine-tune the whole head), residual (a zero-initialised residual MLP "
                                     "over the frozen source head) or progressive (a new column with lateral links "
                                     "from the frozen source column) learn from relabeled target data; finetune-rl "
                                     "runs PPO on the head (the baseline); online runs the policy's RMA-style "
                                     "adaptation module in the control loop (no gradient steps, one warm-up "
                                     "episode; --budget and --rounds are unused)")
    rounds: int = option(4, "collect-then-fit rounds the budget is split into")
    seed: int = option(0, "seed of every random choice")
    eval_episodes: int = option(100, "seeded target episodes per final evaluation")
    validation_episodes: int = option(30, "seeded target episodes to validate after each round")
    eval_seed: int = option(3_000_000, "first seed of the evaluation episodes")
    epochs: int = option(0, "supervised epochs per round; 0 = the method's default (relabel 40, residual 15)")
    learning_rate: float = option(0.0, "learning rate of the last trainable layer; 0 = the method's default "
                                       "(relabel 3e-4, residual 1e-3)")
    freeze_layers: int = option(0, "keep the first k head layers fixed")
    layer_lr_decay: float = option(1.0, "each earlier layer trains at this factor of the next one's rate")
    early_stopping: bool = option(True, "keep each fit's epoch with the lowest held-out loss")
    refit_from_start: bool = option(False, "fit every round from the starting head on all data so far, "
                                           "instead of continuing from the previous round's head")
    joint_noise: float = option(0.03, "max std (rad) of exploration noise on joint targets")
    relabel_horizon: int = option(1, "credit targets with the TCP motion over this many steps; latency + 1 on "
                                     "a robot whose commands arrive late (see `simreal calibrate`)")
    gain_max: float = option(2.0, "max exploration gain on joint-target offsets")
    from_scratch: bool = option(True, "also train a randomly initialised head with the same budget")
    out_dir: str = option("runs/adapt", "where report.json, the PNG and the adapted checkpoint go")


def load_policy(name_or_path: str) -> HierarchicalPolicy:
    """A shipped policy by name or a checkpoint folder by path."""
    if Path(name_or_path).is_dir():
        return HierarchicalPolicy.load(name_or_path)[0]
    return pretrained.load(name_or_path)


def high_level_digest(policy: HierarchicalPolicy) -> str:
    """SHA-256 over the high level's tensors: proves it is bit-identical after adaptation."""
    digest = hashlib.sha256()
    for name, tensor in sorted(policy.high_level.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class AdaptResult:
    report: dict
    policy: HierarchicalPolicy
    accepted: bool


class _Adapter:
    """Everything one adaptation run shares: policy, target, seeds, evaluation."""

    def __init__(self, config: AdaptConfig, progress: Callable[[str], None]) -> None:
        if config.method not in METHODS:
            raise ValueError(f"unknown adaptation method {config.method!r}; available: {', '.join(METHODS)}")
        self.config = config
        self.note = progress
        self.policy = load_policy(config.policy)
        self.policy.freeze_high_level()
        self.profile = assets.target_profile(config.target)
        self.profile.check_robot(self.policy.spec.name, self.policy.spec.dof)
        self.exploration = ExplorationConfig(joint_noise=(0.0, config.joint_noise), gain=(0.8, config.gain_max),
                                             random_action_prob=0.1,
                                             max_offset=self.policy.head.config.max_joint_step)

    def evaluate(self, head: ControlHead, episodes: int, seed: int, on_target: bool = True) -> EvaluationResult:
        kwargs = ({"randomization": None, "target": self.profile.source} if on_target
                  else {"randomization": "default"})
        env = time_limited_grasp_env(robot=self.policy.spec.name, controller=head_controller(head), **kwargs)
        try:
            return evaluate(env, self.policy.act, episodes, seed)
        finally:
            env.close()

    def relabel_rounds(self, head: ControlHead, label: str, seed: int,
                       fresh: bool = False) -> tuple[ControlHead, list[dict]]:
        """Collect on the target with the current head, relabel, refit; validate each round.

        Returns the head that validated best (the starting head included, so a round
        that hurts is never returned) and the validation curve, which starts at 0
        transitions. A ``fresh`` (randomly initialised) head also fits its input
        normalisation.
        """
        cfg = self.config
        defaults = METHOD_DEFAULTS[cfg.method]
        fit = FitConfig(epochs=cfg.epochs or defaults["epochs"],
                        learning_rate=cfg.learning_rate or defaults["learning_rate"], refit_normalization=fresh,
                        freeze_layers=cfg.freeze_layers, layer_lr_decay=cfg.layer_lr_decay,
                        best_epoch=cfg.early_stopping)
        target = open_target(self.profile)
        data: RelabeledData | None = None
        used = 0
        curve = [self._validate(head, used)]
        best = (curve[0]["success"], copy.deepcopy(head.state_dict()))
        start = best[1]
        try:
            for r in range(cfg.rounds):
                self.note(f"{label}: round {r + 1}/{cfg.rounds}")
                share = cfg.budget * (r + 1) // cfg.rounds - used
                trajectories = collect_transitions(target, share, seed + 10_000 * r, self.policy.act,
                                                   head_controller(head), self.exploration)
                used += sum(len(t) for t in trajectories)
                new = relabel(trajectories, self.policy.spec, head.config, horizon=cfg.relabel_horizon)
                data = new if data is None else data.extend(new)
                if cfg.refit_from_start:
                    head.load_state_dict(start)
                fit_head(head, data, fit, seed=seed + r)
                curve.append(self._validate(head, used))
                if curve[-1]["success"] >= best[0]:  # ties go to the head trained on more data
                    best = (curve[-1]["success"], copy.deepcopy(head.state_dict()))
        finally:
            target.close()
        head.load_state_dict(best[1])
        return head.eval(), curve

    def ppo_rounds(self, head: ControlHead) -> tuple[ControlHead, list[dict]]:
        """RL fine-tuning baseline: PPO on the head in rounds, validated like relabeling."""
        cfg = self.config
        lr = cfg.learning_rate or METHOD_DEFAULTS["finetune-rl"]["learning_rate"]
        ppo = HeadPPO(self.policy, self.profile, cfg.seed, chunk=max(1, cfg.budget // cfg.rounds), learning_rate=lr)
        curve = [self._validate(head, 0)]
        best = (curve[0]["success"], head)
        used = 0
        try:
            for r in range(cfg.rounds):
                self.note(f"PPO: round {r + 1}/{cfg.rounds}")
                share = cfg.budget * (r + 1) // cfg.rounds - used
                ppo.learn(share)
                used = ppo.model.num_timesteps  # PPO collects whole rollouts
                candidate = ppo.export()
                curve.append(self._validate(candidate, used))
                if curve[-1]["success"] >= best[0]:
                    best = (curve[-1]["success"], candidate)
        finally:
            ppo.close()
        return best[1], curve

    def _validate(self, head: ControlHead, transitions: int) -> dict:
        result = self.evaluate(head, self.config.validation_episodes, self.config.eval_seed + 500_000)
        return {"transitions": transitions, "success": result.success_rate, "interval": list(result.interval)}

def adapt(config: AdaptConfig, progress: Callable[[str], None] | None = None) -> AdaptResult:
    """Adapt ``config.policy``'s head to ``config.target``; see the module docstring."""
    note = progress or (lambda message: None)
    torch.set_num_threads(1)
    if config.method == "online":  # no training on the target: its own run and report (learn.online_adapt)
        from .online_adapt import adapt_online

        return adapt_online(config, note)
    run = _Adapter(config, note)
    cfg, policy = config, run.policy
    digest = high_level_digest(policy)
    source_head = policy.head
    note("in-sim and zero-shot evaluation")
    in_sim = run.evaluate(source_head, cfg.eval_episodes, cfg.eval_seed, on_target=False)
    zero_shot = run.evaluate(source_head, cfg.eval_episodes, cfg.eval_seed)
    start = copy.deepcopy(source_head)
    if cfg.method == "finetune-rl":
        adapted_head, curve = run.ppo_rounds(start)
    elif cfg.method in ADAPTER_METHODS:
        with torch.random.fork_rng():  # the adapter's initialisation depends on the seed alone
            torch.manual_seed(cfg.seed)
            start = ADAPTER_METHODS[cfg.method](start)
    if cfg.method != "finetune-rl":
        adapted_head, curve = run.relabel_rounds(start, "adapting", cfg.seed)
    note("evaluating the adapted head")
    adapted = run.evaluate(adapted_head, cfg.eval_episodes, cfg.eval_seed)
    scratch, scratch_curve = None, []
    if cfg.from_scratch:
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            fresh = ControlHead(policy.spec.dof, source_head.config)
        scratch_head, scratch_curve = run.relabel_rounds(fresh, "from scratch", cfg.seed + 1, fresh=True)
        scratch = run.evaluate(scratch_head, cfg.eval_episodes, cfg.eval_seed)
    better, p_value = better_with_confidence(adapted, zero_shot)
    if better:
        policy.head = adapted_head
    if high_level_digest(policy) != digest:
        raise RuntimeError("the high level changed during adaptation; this is a bug")
    report = _report(cfg, run, in_sim, zero_shot, adapted, scratch, curve, scratch_curve, better, p_value, digest)
    return AdaptResult(report, policy, better)


def _summary(result: EvaluationResult | None) -> dict | None:
    if result is None:
        return None
    return {"success_rate": result.success_rate, "interval_95": list(result.interval),
            "episodes": result.episodes, "successes": result.successes}


def _report(cfg: AdaptConfig, run: _Adapter, in_sim: EvaluationResult, zero_shot: EvaluationResult,
            adapted: EvaluationResult, scratch: EvaluationResult | None, curve: list[dict],
            scratch_curve: list[dict], accepted: bool, p_value: float, digest: str) -> dict:
    threshold = 0.9 * in_sim.success_rate
    points = [(c["transitions"], c["success"]) for c in curve]
    scratch_points = [(c["transitions"], c["success"]) for c in scratch_curve]
    return {
        "config": asdict(cfg),
        "target": {"name": run.profile.name, "source": run.profile.source, "description": run.profile.description},
        "method": cfg.method,
        "in_sim": _summary(in_sim),
        "zero_shot": _summary(zero_shot),
        "adapted": _summary(adapted),
        "from_scratch": _summary(scratch),
        "target_transitions": curve[-1]["transitions"],
        "jumpstart": zero_shot.success_rate - (scratch_curve[0]["success"] if scratch_curve else 0.0),
        "threshold": threshold,
        "time_to_threshold": time_to_threshold(points, threshold),
        "scratch_time_to_threshold": time_to_threshold(scratch_points, threshold) if scratch_points else None,
        "transfer_ratio": transfer_ratio(points, scratch_points) if scratch_points else None,
        "negative_transfer": not accepted,
        "p_value_adapted_better": p_value,
        "high_level_sha256": digest,
        "curve": curve,
        "scratch_curve": scratch_curve,
    }


def save_outputs(result: AdaptResult, out_dir: str | Path) -> dict[str, Path]:
    """report.json, adaptation.png and (when accepted) the adapted checkpoint."""
    from ..plots import adaptation_curve

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json", "plot": out / "adaptation.png"}
    write_json(paths["report"], result.report)
    adaptation_curve(result.report, paths["plot"])
    if result.accepted:
        report = result.report
        metrics = {k: report[k] for k in ("in_sim", "zero_shot", "adapted", "target_transitions")}
        paths["checkpoint"] = result.policy.save(
            out / "adapted", metrics=metrics, seed=report["config"]["seed"], command=["simreal", "adapt"],
            extra={"adapted_to": report["target"], "method": report["method"]})
    return paths
