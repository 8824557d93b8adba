"""The adaptation report: what was kept and why, every target step, and the verdict.

The verdict is read from the report's measurements (the same seeded target episodes for
every head):

- ``nothing to recover`` (exit 0): zero-shot is not significantly below in-sim, or it
  already reaches 90 % of in-sim (whichever head was kept);
- ``recovered`` (exit 0): the kept head reaches 90 % of in-sim success;
- ``improved`` (exit 0): better than zero-shot with confidence, below 90 % of in-sim;
- ``not recovered`` (exit 4): hurt, and no head did significantly better than zero-shot;
- ``negative transfer`` (exit 3): the kept head is worse than zero-shot with confidence,
  or learning from scratch beat starting from the source head (the kept head is from
  scratch and validated better than the validated heads adapted from the source, at 1 %
  (validation tallies are small); or the from-scratch baseline measures more than 5 points better with
  confidence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from ...evaluation import EvaluationResult
from ..transfer import area_under_curve, better_with_confidence
from .config import RECOVERY, AdaptConfig
from .ledger import StepLedger
from .measure import steps_of, summary
from .selection import Candidate, Selection, rank_key
from .validation import PASSED

EXIT_CODES = {"nothing to recover": 0, "recovered": 0, "improved": 0, "not recovered": 4, "negative transfer": 3}
# Validation tallies are small and stop early, so a claim of negative transfer read from them
# needs stronger evidence than the measurement's 5 %.
CLAIM_ALPHA = 0.01
SCRATCH_MARGIN = 0.05  # how much better the from-scratch baseline must measure to count against the source

MEASUREMENT_NOTE = ("measurement for the report, not part of adapting: seeded target episodes outside the "
                    "adaptation's budget")


@dataclass(frozen=True)
class Measurements:
    """The report's measurements; ``from_scratch`` is None without the baseline."""

    in_sim: EvaluationResult
    zero_shot: EvaluationResult
    final: EvaluationResult
    from_scratch: EvaluationResult | None


@dataclass(frozen=True)
class RunRecord:
    """One run's candidates, its choice and its ledger (the adaptation or the baseline);
    ``details`` are the method's own entries (``online``: its warm-up and estimate)."""

    candidates: Sequence[Candidate]
    selection: Selection
    ledger: StepLedger
    validation: str
    safety_flags: Mapping[str, int] = field(default_factory=dict)  # states per flag, robots that report them
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        winner = self.selection.winner
        return {"kept": {"name": winner.name, "origin": winner.origin, "reason": self.selection.reason},
                "passed_at_steps": winner.decided_at if winner.verdict == PASSED else None,
                "validation": self.validation, **self.ledger.summary(), "safety_flags": dict(self.safety_flags),
                "candidates": [c.to_json() for c in self.candidates], "curve": curve(self.candidates),
                **self.details}


def verdict(m: Measurements, kept: Candidate, adapted: Candidate | None = None) -> tuple[str, str]:
    """The run's verdict and its reason (see module docstring); ``adapted`` is the best
    validated head adapted from the source (None if none was validated: no evidence)."""
    threshold = RECOVERY * m.in_sim.success_rate
    if refuse(m.zero_shot, m.final):
        return "negative transfer", "the kept head is worse than the source head zero-shot"
    if not better_with_confidence(m.in_sim, m.zero_shot)[0]:
        return "nothing to recover", "zero-shot success is not significantly below in-sim"
    if (m.from_scratch is not None and m.from_scratch.success_rate - m.final.success_rate > SCRATCH_MARGIN
            and better_with_confidence(m.from_scratch, m.final)[0]):
        return "negative transfer", "the from-scratch baseline does better than the kept head"
    if m.zero_shot.success_rate >= threshold:
        return "nothing to recover", f"zero-shot success already reaches {RECOVERY:.0%} of in-sim"
    if (kept.origin == "scratch" and adapted is not None
            and better_with_confidence(kept.tally, adapted.tally, alpha=CLAIM_ALPHA)[0]):
        return "negative transfer", ("a head learnt from scratch validated better, with confidence, than the heads "
                                     "adapted from the source head")
    if m.final.success_rate >= threshold:
        return "recovered", f"the kept head reaches {RECOVERY:.0%} of in-sim success"
    if better_with_confidence(m.final, m.zero_shot)[0]:
        return "improved", f"better than zero-shot with confidence, below {RECOVERY:.0%} of in-sim success"
    return "not recovered", "no head did significantly better than zero-shot"


def refuse(zero_shot: EvaluationResult, final: EvaluationResult) -> bool:
    """Whether a kept head is refused: it measured worse than the source head zero-shot, with
    confidence, on the same seeded target episodes. This is the guard of a method that keeps
    its head unvalidated (``online``), and a last check on the others."""
    return better_with_confidence(zero_shot, final)[0]


def verdict_label(report: dict) -> str:
    """The verdict as tables print it, saying when the kept head was refused."""
    return report["verdict"] + ("; head refused" if report.get("kept_head_refused") else "")


def curve(candidates: Sequence[Candidate]) -> list[dict]:
    """(target steps, validation success of the best head so far), at each decision."""
    points, seen = [], []
    for candidate in sorted((c for c in candidates if c.decided_at is not None), key=lambda c: c.decided_at):
        seen.append(candidate)
        best = min(seen, key=rank_key)
        points.append({"steps": candidate.decided_at, "best": best.name, "success": best.tally.success_rate})
    return points


def transfer_ratio(run: Sequence[dict], baseline: Sequence[dict]) -> float | None:
    """Area under the run's curve over the baseline's, both from 0 steps and held flat to the
    later end; None when the baseline's area is zero (printed "n/a")."""
    if not run or not baseline:
        return None
    end = max(run[-1]["steps"], baseline[-1]["steps"])

    def points(c: Sequence[dict]) -> list[tuple[float, float]]:
        return [(0.0, c[0]["success"]), *((p["steps"], p["success"]) for p in c), (end, c[-1]["success"])]

    base = area_under_curve(points(baseline))
    return area_under_curve(points(run)) / base if base > 0 else None


def _target_steps(measured: dict[str, EvaluationResult | None]) -> int:
    """Target steps of the measurements (one measured twice, the kept source head, counts once)."""
    unique = {id(v): v for k, v in measured.items() if k != "in_sim" and v is not None}
    return sum(steps_of(v) for v in unique.values())


def build_report(cfg: AdaptConfig, target: dict, m: Measurements, run: RunRecord, baseline: RunRecord | None,
                 digest: str) -> dict:
    """The report; ``kept_head_refused``: the kept head measured worse than zero-shot (``refuse``)
    and the run keeps the source head (a kept source head measures as zero-shot: never refused)."""
    refused = refuse(m.zero_shot, m.final)
    kept = run.selection.winner
    adapted = [c for c in run.candidates if c.origin == "adapted" and c.tally.episodes]
    name, reason = verdict(m, kept, min(adapted, key=rank_key) if adapted else None)
    if refused:
        reason += "; it is refused, the output keeps the source head"
    main = run.to_json()
    base = baseline.to_json() if baseline is not None else None
    measured = {"in_sim": m.in_sim, "zero_shot": m.zero_shot, "final": m.final, "from_scratch": m.from_scratch}
    return {
        "config": asdict(cfg),
        "target": target,
        "method": cfg.method,
        **{k: summary(v) for k, v in measured.items()},
        "measurement": {"note": MEASUREMENT_NOTE, "episodes": cfg.eval_episodes, "seed": cfg.eval_seed,
                        "target_steps": _target_steps(measured),
                        "robot_time_s": round(_target_steps(measured) * run.ledger.control_period, 3)},
        "threshold": RECOVERY * m.in_sim.success_rate,
        "verdict": name,
        "verdict_reason": reason,
        "exit_code": EXIT_CODES[name],
        "negative_transfer": name == "negative transfer",
        "kept_head_refused": refused,
        "adaptation": main,
        "baseline": base,
        "jumpstart": (main["curve"][0]["success"] - base["curve"][0]["success"]
                      if base and base["curve"] and main["curve"] else None),
        "transfer_ratio": transfer_ratio(main["curve"], base["curve"]) if base else None,
        "high_level_sha256": digest,
    }
