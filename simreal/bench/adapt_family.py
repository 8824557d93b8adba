"""``simreal bench adapt --family DIR``: one adaptation method over a family of targets.

Per target (a profile of the folder, e.g. from ``simreal targets sample``) it runs
``adapt`` with the from-scratch baseline and reports the distribution: the fraction of
targets the source head is hurt on (zero-shot below 90 % of in-sim), the fraction of
those recovered to 90 % of in-sim, the median target steps the recovered runs spent,
and every target where the from-scratch baseline did better than the kept head.

Reach: a target is *reachable* when a control head can be brought to 90 % of in-sim on
it. A hurt target the run recovered is reachable by that very head. For a hurt target
it did not recover the bench trains a head from scratch with ``reach_factor`` times the
budget (the expensive check, run only there): reachable if that head measures at 90 %
of in-sim. Unreachable targets are reported apart (latency the frozen high level cannot
absorb, encoder offsets that corrupt what it observes, a grip the head does not command
are out of a control head's reach by construction).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .. import assets
from ..families import changed_fields, family_members
from ..learn.adapt import FROM_SCRATCH, RECOVERY, AdaptConfig, adapt, load_policy, run_method, target_robot
from ..learn.adapt import measure as measuring
from ..learn.adapt.report import verdict_label
from ..learn.transfer import better_with_confidence
from ..evaluation import EvaluationResult

SCRATCH_MARGIN = 0.05  # the bar: the kept head is never more than this below the from-scratch baseline
REACH_ROUNDS = 4  # the reach check collects its budget in this many rounds


@dataclass(frozen=True)
class Rate:
    """A measured success rate with its 95 % interval (from a report summary)."""

    successes: int
    episodes: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @classmethod
    def of(cls, summary: dict) -> Rate:
        return cls(summary["successes"], summary["episodes"])

    def result(self) -> EvaluationResult:
        return EvaluationResult(self.episodes, self.successes, 0.0, 0.0)


@dataclass(frozen=True)
class FamilyRow:
    """One target of the family: measurements, what the run kept, its steps, and its reach."""

    target: str
    changed: dict
    in_sim: Rate
    zero_shot: Rate
    final: Rate
    from_scratch: Rate | None
    kept: str
    verdict: str
    steps: dict
    reach: Rate | None = None  # the reach check's head from scratch (only where it ran)

    @property
    def threshold(self) -> float:
        return RECOVERY * self.in_sim.success_rate

    @property
    def hurt(self) -> bool:
        return self.zero_shot.success_rate < self.threshold

    @property
    def recovered(self) -> bool:
        return self.final.success_rate >= self.threshold

    @property
    def reachable(self) -> bool | None:
        """True/False for hurt targets (recovered, or by the reach check); None otherwise."""
        if not self.hurt:
            return None
        return self.recovered or (self.reach is not None and self.reach.success_rate >= self.threshold)

    @property
    def scratch_better(self) -> bool:
        return self.from_scratch is not None and self.from_scratch.success_rate > self.final.success_rate

    @property
    def below_scratch(self) -> bool:
        """The bar's failure: more than 5 points below the baseline, and significantly."""
        if self.from_scratch is None:
            return False
        gap = self.from_scratch.success_rate - self.final.success_rate
        return gap > SCRATCH_MARGIN and better_with_confidence(self.from_scratch.result(), self.final.result())[0]


@dataclass(frozen=True)
class FamilySummary:
    targets: int
    hurt: int
    reachable_hurt: int
    recovered: int  # of the reachable hurt
    median_steps_to_recovery: float | None
    scratch_better: list[str]
    below_scratch: list[str]
    unreachable: list[str]
    wall_time_s: float


def summarize(rows: Sequence[FamilyRow], wall_time_s: float) -> FamilySummary:
    """The distribution the issue's bars read (see module docstring)."""
    hurt = [r for r in rows if r.hurt]
    reachable = [r for r in hurt if r.reachable]
    recovered = [r for r in reachable if r.recovered]
    steps = [r.steps["total"] for r in recovered]
    return FamilySummary(len(rows), len(hurt), len(reachable), len(recovered),
                         statistics.median(steps) if steps else None,
                         [r.target for r in rows if r.scratch_better], [r.target for r in rows if r.below_scratch],
                         [r.target for r in hurt if not r.reachable], wall_time_s)


def reach_check(base: AdaptConfig, path: Path, in_sim: EvaluationResult, factor: int,
                note: Callable[[str], None]) -> Rate:
    """A head from scratch on ``path`` with ``factor`` times the budget, measured on the target."""
    policy = load_policy(base.policy)
    robot, _ = target_robot(replace(base, target=str(path)), policy)
    budget = base.budget * factor
    config = replace(base, target=str(path), budget=budget, round_steps=max(base.round_steps, budget // REACH_ROUNDS))
    record = run_method(config, policy, robot, FROM_SCRATCH, in_sim.success_rate, note, baseline=True)
    result = measuring.on_target(policy, record.selection.winner.head, robot, base.eval_episodes, base.eval_seed)
    return Rate(result.successes, result.episodes)


@dataclass
class FamilyMemberTrial(AdaptConfig):
    """One member of a family bench: ``adapt`` on ``target`` with the baseline, then the reach
    check if it was hurt and not recovered; the in-sim measurement is taken once and passed in."""

    reach_factor: int = 10
    in_sim_successes: int = -1  # -1: measure in-sim here
    in_sim_episodes: int = 0
    in_sim_mean_length: float = 0.0


def family_member(config: FamilyMemberTrial, note: Callable[[str], None] | None = None) -> FamilyRow:
    """The family bench's row of one target (see the module docstring)."""
    say = note or (lambda message: None)
    path = Path(config.target)
    base = AdaptConfig(**{f.name: getattr(config, f.name) for f in fields(AdaptConfig)})
    if config.in_sim_successes >= 0:
        in_sim = EvaluationResult(config.in_sim_episodes, config.in_sim_successes, config.in_sim_mean_length, 0.0)
    else:
        policy = load_policy(base.policy)
        in_sim = measuring.in_sim(policy, policy.head, base.eval_episodes, base.eval_seed)
    report = adapt(replace(base, from_scratch=True), say, in_sim=in_sim).report
    row = FamilyRow(path.stem, changed_fields(assets.target_profile(path).dynamics), Rate.of(report["in_sim"]),
                    Rate.of(report["zero_shot"]), Rate.of(report["final"]), Rate.of(report["from_scratch"]),
                    report["adaptation"]["kept"]["name"], verdict_label(report), report["adaptation"]["steps"])
    if row.hurt and not row.recovered:
        say(f"reach check: from scratch with {config.reach_factor}x the budget")
        row = replace(row, reach=reach_check(base, path, in_sim, config.reach_factor, say))
    return row


def run_family_member(config: FamilyMemberTrial) -> dict:
    """``family_member`` as a sweep trial (``simreal.sweep``): the row as a dict."""
    return asdict(family_member(config))


def _row_from(data: dict) -> FamilyRow:
    rates = {k: None if data[k] is None else Rate(**data[k])
             for k in ("in_sim", "zero_shot", "final", "from_scratch", "reach")}
    return FamilyRow(**{**data, **rates})


def measure_family(base: AdaptConfig, folder: str | Path, reach_factor: int = 10,
                   progress: Callable[[str], None] | None = None, backend: str = "serial", workers: int = 2,
                   ray_address: str | None = None) -> tuple[list[FamilyRow], FamilySummary]:
    """Adapt to every profile of ``folder`` with ``base`` (its target ignored); see the module docstring.

    Each member is one sweep trial (``simreal.sweep.run_sweep``): serially, on a local
    process pool or on Ray, with the same numbers either way. A member that fails is an
    error naming it (after the others have run)."""
    from ..sweep import Trial, run_sweep

    note = progress or (lambda message: None)
    start = time.perf_counter()
    members = family_members(folder)
    policy = load_policy(base.policy)
    note("measuring in-sim success (simulation)")
    in_sim = measuring.in_sim(policy, policy.head, base.eval_episodes, base.eval_seed)
    shared = {**asdict(base), "reach_factor": reach_factor, "in_sim_successes": in_sim.successes,
              "in_sim_episodes": in_sim.episodes, "in_sim_mean_length": in_sim.mean_length}
    trials = [Trial("family-member", {**shared, "target": str(path)}) for path in members]
    results = run_sweep(trials, backend, workers, ray_address,
                        progress=lambda done, total, result: note(f"{done}/{total} targets adapted"))
    failed = [f"{Path(r.trial.options['target']).stem}: {r.error}" for r in results if not r.ok]
    if failed:
        raise RuntimeError("family bench: " + "; ".join(failed))
    rows = [_row_from(r.result) for r in results]
    return rows, summarize(rows, time.perf_counter() - start)


def summary_lines(s: FamilySummary) -> list[str]:
    """The distribution in sentences, for the terminal and the docs."""
    recovered = (f"{s.recovered}/{s.reachable_hurt} ({s.recovered / s.reachable_hurt:.0%})" if s.reachable_hurt
                 else "n/a (none)")
    median = "n/a" if s.median_steps_to_recovery is None else f"{s.median_steps_to_recovery:,.0f}"
    return [
        f"hurt (zero-shot below {RECOVERY:.0%} of in-sim): {s.hurt}/{s.targets} ({s.hurt / s.targets:.0%}); "
        f"reachable of those: {s.reachable_hurt}; unreachable: {', '.join(s.unreachable) or 'none'}",
        f"recovered to {RECOVERY:.0%} of in-sim, of the reachable hurt: {recovered}; median target steps of the "
        f"recovered runs: {median}",
        f"from-scratch baseline measured higher than the kept head on: {', '.join(s.scratch_better) or 'none'}; "
        f"more than {SCRATCH_MARGIN:.0%} below it with confidence on: {', '.join(s.below_scratch) or 'none'}",
        f"wall time {s.wall_time_s / 60:.1f} min",
    ]


def write_rows(path: str | Path, rows: Sequence[FamilyRow], summary: FamilySummary) -> Path:
    """The rows and the summary as JSON (atomic write)."""
    from ..atomic import write_json

    data = {"rows": [{**asdict(r), "hurt": r.hurt, "recovered": r.recovered, "reachable": r.reachable,
                      "scratch_better": r.scratch_better, "below_scratch": r.below_scratch} for r in rows],
            "summary": asdict(summary)}
    return write_json(Path(path), data)
