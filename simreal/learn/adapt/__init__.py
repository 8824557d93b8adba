"""Adaptation: retrain the control head on a target robot with the high level frozen.

``adapt()`` is the one entry point for every method (``methods.METHODS``). It runs on a
Robot factory (a target profile's stand-in through ``open_target``, or any Robot, e.g. a
bridge client), within a budget of target control steps that counts collection and
validation alike (``ledger``). The source head is validated first; if it passes there is
nothing to adapt. Otherwise rounds collect, relabel, fit a head adapted from the source
and a head from scratch on the same data, and validate them with a sequential test
(``validation``) until one passes or the budget is spent; the run keeps the best
candidate by that held-out test (``selection``), saying which and why. ``online`` trains
nothing: it runs the policy's adaptation module in the loop after one warm-up episode
(``online``). The report's
seeded evaluation (in sim, zero-shot, final head and the from-scratch baseline) is a
measurement for the report, outside the budget, and gives the verdict (``report``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import assets, pretrained
from ...atomic import write_json
from ...evaluation import EvaluationResult
from ...policy.hierarchical import HierarchicalPolicy
from ...targets import open_target
from . import measure
from .config import RECOVERY, AdaptConfig
from .low_level import install
from .methods import FROM_SCRATCH, METHODS, Method, method_named
from .online import NoOnlineModule
from .report import Measurements, RunRecord, build_report
from .run import AdaptRun, UnsupportedPolicy
from .session import RobotFactory

VALIDATION_SEED_OFFSET = 500_000  # validation episodes never share a seed with the report's
BASELINE_SEED_OFFSET = 700_000


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
    """The report, the policy with the kept head, and whether that head is a new one."""

    report: dict
    policy: HierarchicalPolicy
    accepted: bool

    @property
    def exit_code(self) -> int:
        return self.report["exit_code"]


def target_robot(config: AdaptConfig, policy: HierarchicalPolicy) -> tuple[RobotFactory, dict]:
    """The Robot factory and report entry for ``config.target`` (a profile name or path)."""
    profile = assets.target_profile(config.target)
    profile.check_robot(policy.spec.name, policy.spec.dof)
    info = {"name": profile.name, "source": profile.source, "description": profile.description}
    return (lambda: open_target(profile)), info


def run_method(config: AdaptConfig, policy: HierarchicalPolicy, robot: RobotFactory, method: Method,
               in_sim: float, note: Callable[[str], None] | None = None, *, baseline: bool = False) -> RunRecord:
    """One adaptation run of ``method`` on ``robot`` within ``config.budget`` target steps.

    ``in_sim`` is the source policy's in-sim success, which the validation test is set by. A
    ``baseline`` run uses its own seeds (collection and validation), so it shares no
    episode with the adaptation it is compared with.
    """
    method.check(policy)
    offset = BASELINE_SEED_OFFSET if baseline else VALIDATION_SEED_OFFSET
    run = AdaptRun(config, policy, robot, method, in_sim, note or (lambda message: None),
                   seed=config.seed + int(baseline), validation_seed=config.eval_seed + offset)
    try:
        candidates = method.run(run)
    finally:
        run.close()
    return RunRecord(candidates, method.choose(candidates, run.test), run.ledger, run.test.describe(), run.details)


def adapt(config: AdaptConfig, progress: Callable[[str], None] | None = None,
          robot: RobotFactory | None = None, target: dict | None = None,
          in_sim: EvaluationResult | None = None) -> AdaptResult:
    """Adapt ``config.policy``'s head on the target (module docstring).

    ``robot`` makes the target Robot (default: ``open_target(config.target)``); it is
    called once per session (the adaptation, the baseline, each measurement). ``target``
    describes it in the report (default: the profile's name, source and description).
    ``in_sim`` is the source head's in-sim measurement if already taken (it depends on
    the policy and the measurement seeds alone), else it is measured.
    """
    note = progress or (lambda message: None)
    torch.set_num_threads(1)
    method = method_named(config.method)
    policy = load_policy(config.policy)
    method.check(policy)
    policy.freeze_high_level()
    if robot is None:
        robot, target = target_robot(config, policy)
    target = target or {"name": config.target, "source": None, "description": ""}
    digest = high_level_digest(policy)
    source_head = policy.head
    if in_sim is None:
        note("measuring in-sim success (simulation)")
        in_sim = measure.in_sim(policy, source_head, config.eval_episodes, config.eval_seed)
    run = run_method(config, policy, robot, method, in_sim.success_rate, lambda m: note(f"adapting: {m}"))
    baseline = (run_method(config, policy, robot, FROM_SCRATCH, in_sim.success_rate,
                           lambda m: note(f"from-scratch baseline: {m}"), baseline=True)
                if config.from_scratch else None)
    kept = run.selection.winner
    note("measuring zero-shot, kept and baseline heads on the target (report measurement)")
    zero_shot = measure.on_target(policy, source_head, robot, config.eval_episodes, config.eval_seed)
    final = zero_shot if kept.head is source_head else measure.on_target(policy, kept.head, robot,
                                                                         config.eval_episodes, config.eval_seed)
    scratch = (measure.on_target(policy, baseline.selection.winner.head, robot, config.eval_episodes,
                                 config.eval_seed) if baseline is not None else None)
    install(policy, kept.head)
    if high_level_digest(policy) != digest:
        raise RuntimeError("the high level changed during adaptation; this is a bug")
    report = build_report(config, target, Measurements(in_sim, zero_shot, final, scratch), run, baseline, digest)
    return AdaptResult(report, policy, accepted=kept.head is not source_head)


def save_outputs(result: AdaptResult, out_dir: str | Path) -> dict[str, Path]:
    """report.json, adaptation.png and (when a new head was kept) the adapted checkpoint."""
    from ...plots import adaptation_curve

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json", "plot": out / "adaptation.png"}
    write_json(paths["report"], result.report)
    adaptation_curve(result.report, paths["plot"])
    if result.accepted:
        report = result.report
        metrics = {k: report[k] for k in ("in_sim", "zero_shot", "final")}
        metrics["target_steps"] = report["adaptation"]["steps"]
        paths["checkpoint"] = result.policy.save(
            out / "adapted", metrics=metrics, seed=report["config"]["seed"], command=["simreal", "adapt"],
            extra={"adapted_to": report["target"], "method": report["method"],
                   "kept": report["adaptation"]["kept"]})
    return paths


__all__ = ["FROM_SCRATCH", "METHODS", "RECOVERY", "AdaptConfig", "AdaptResult", "Method", "NoOnlineModule",
           "RunRecord", "UnsupportedPolicy", "adapt", "high_level_digest", "load_policy", "run_method",
           "save_outputs", "target_robot"]
