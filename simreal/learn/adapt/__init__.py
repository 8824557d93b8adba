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
measurement for the report, outside the budget, and gives the verdict (``report``); a kept
head that measures worse than the source head there, with confidence, is refused: the run
writes no adapted checkpoint and its policy keeps the source head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import pretrained
from ...atomic import write_json
from ...episode_journal import EpisodeJournal, module_digest
from ...evaluation import EvaluationResult
from ...policy.hierarchical import HierarchicalPolicy
from ...robot_reference import robot_factory
from . import low_level, measure
from .config import RECOVERY, AdaptConfig
from .methods import FROM_SCRATCH, METHODS, Method, method_named
from .online import NoOnlineModule
from .report import Measurements, RunRecord, build_report
from .run import AdaptRun, UnsupportedPolicy
from .run_folder import RunFolder
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
    return module_digest(policy.high_level)


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
    """The Robot factory and report entry for ``config.target`` (a profile name or path, or a
    bridge endpoint)."""
    return robot_factory(config.target, policy.spec, access=config.access())


def run_method(config: AdaptConfig, policy: HierarchicalPolicy, robot: RobotFactory, method: Method,
               in_sim: float, note: Callable[[str], None] | None = None, *, baseline: bool = False,
               journal: EpisodeJournal | None = None) -> RunRecord:
    """One adaptation run of ``method`` on ``robot`` within ``config.budget`` target steps.

    ``in_sim`` is the source policy's in-sim success, which the validation test is set by. A
    ``baseline`` run uses its own seeds (collection and validation), so it shares no
    episode with the adaptation it is compared with. With a ``journal`` every episode
    reaches disk as it completes, and a resumed run takes its episodes from there. With
    ``config.n_envs`` above 1 the collection runs on that many robots opened in worker
    processes from ``config.target`` (the same episodes as on ``robot``).
    """
    method.check(policy)
    offset = BASELINE_SEED_OFFSET if baseline else VALIDATION_SEED_OFFSET
    run = AdaptRun(config, policy, robot, method, in_sim, note or (lambda message: None),
                   seed=config.seed + int(baseline), validation_seed=config.eval_seed + offset, journal=journal,
                   name="baseline" if baseline else "adapt")
    try:
        candidates = method.run(run)
        flags = run.safety_flags()
    finally:
        run.close()
    return RunRecord(candidates, method.choose(candidates, run.test), run.ledger, run.test.describe(), flags,
                     run.details)


def adapt(config: AdaptConfig, progress: Callable[[str], None] | None = None,
          robot: RobotFactory | None = None, target: dict | None = None,
          in_sim: EvaluationResult | None = None, folder: RunFolder | None = None) -> AdaptResult:
    """Adapt ``config.policy``'s head on the target (module docstring).

    ``robot`` makes the target Robot (default: what ``config.target`` names: a profile's
    stand-in or a bridge client); it is called once per session (the adaptation, the
    baseline, each measurement). ``target`` describes it in the report. ``in_sim`` is the
    source head's in-sim measurement if already taken (it depends on the policy and the
    measurement seeds alone), else it is measured. With a run ``folder`` every target
    episode and finished measurement reaches disk, and a resumed folder serves them back.
    """
    note = progress or (lambda message: None)
    torch.set_num_threads(1)
    method = method_named(config.method)
    policy = load_policy(config.policy)
    method.check(policy)
    policy.freeze_high_level()
    if robot is None:
        robot, target = target_robot(config, policy)
    elif config.n_envs > 1:
        raise ValueError(f"n_envs {config.n_envs}: the collection workers open the robot config.target names; "
                         "adapt() was given a robot factory of its own, so collect with n_envs 1")
    target = target or {"name": config.target, "source": None, "description": ""}
    digest = high_level_digest(policy)
    source_head = policy.head
    journal = folder.journal if folder is not None else None

    def measured(key: str, head: object, on_target: bool = True) -> EvaluationResult:
        def run() -> EvaluationResult:
            if not on_target:
                return measure.in_sim(policy, head, config.eval_episodes, config.eval_seed)
            return measure.on_target(policy, head, robot, config.eval_episodes, config.eval_seed)

        return run() if folder is None else folder.measured(f"{key} {low_level.digest(head)}", run)

    if in_sim is None:
        note("measuring in-sim success (simulation)")
        in_sim = measured("in_sim", source_head, on_target=False)
    run = run_method(config, policy, robot, method, in_sim.success_rate, lambda m: note(f"adapting: {m}"),
                     journal=journal)
    baseline = (run_method(config, policy, robot, FROM_SCRATCH, in_sim.success_rate,
                           lambda m: note(f"from-scratch baseline: {m}"), baseline=True, journal=journal)
                if config.from_scratch else None)
    kept = run.selection.winner
    note("measuring zero-shot, kept and baseline heads on the target (report measurement)")
    zero_shot = measured("zero_shot", source_head)
    final = zero_shot if kept.head is source_head else measured("final", kept.head)
    scratch = measured("from_scratch", baseline.selection.winner.head) if baseline is not None else None
    report = build_report(config, target, Measurements(in_sim, zero_shot, final, scratch), run, baseline, digest)
    accepted = kept.head is not source_head and not report["kept_head_refused"]
    if accepted:
        low_level.install(policy, kept.head)
    if high_level_digest(policy) != digest:
        raise RuntimeError("the high level changed during adaptation; this is a bug")
    return AdaptResult(report, policy, accepted=accepted)


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
           "RunFolder", "RunRecord", "UnsupportedPolicy", "adapt", "high_level_digest", "load_policy", "run_method",
           "save_outputs", "target_robot"]
