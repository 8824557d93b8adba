"""Transfer metrics over seeds (Taylor & Stone 2009) and the negative-transfer guard.

Per run (one seed) a learning curve of validation success against env steps and a held-out
evaluation at the end. Across seeds, for a transfer mode against learning from scratch:

* jumpstart: validation success before any training, transfer minus scratch;
* time to threshold: env steps until validation success first reaches the threshold (a run
  that never does counts as its whole budget, so such means are lower bounds);
* asymptotic success: the held-out success at the end of the budget;
* area-under-curve ratio: mean area under the transfer curves over the scratch curves'.

Intervals are 95 %: Student-t over seeds for means and paired differences, a seeded
percentile bootstrap over paired seeds for ratios. A ratio whose denominator is zero is
``None`` (shown "n/a"), never infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from ..evaluation import EvaluationResult
from ..learn.transfer import area_under_curve, better_with_confidence, time_to_threshold
from .transfer import RunResult


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its 95 % interval (``None`` bounds with fewer than two seeds)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    def show(self, fmt: str = "{:.2f}") -> str:
        if self.low is None or self.high is None:
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)} [{fmt.format(self.low)}, {fmt.format(self.high)}]"


def mean_interval(values: Sequence[float], bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean and Student-t 95 % interval, clipped to ``bounds`` when given (e.g. (0, 1) for rates)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return Estimate(mean, None, None, len(x))
    half = float(student_t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(mean, low, high, len(x))


def ratio_interval(numerator: Sequence[float], denominator: Sequence[float], seed: int = 0,
                   resamples: int = 2000) -> Estimate | None:
    """mean(numerator) / mean(denominator) over paired seeds, percentile-bootstrap 95 % interval.

    ``None`` when the denominator's mean is zero; bootstrap draws with a zero denominator are
    left out of the interval.
    """
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    if den.mean() <= 0:
        return None
    point = float(num.mean() / den.mean())
    if len(num) < 2:
        return Estimate(point, None, None, len(num))
    idx = np.random.default_rng(seed).integers(len(num), size=(resamples, len(num)))
    nums, dens = num[idx].mean(axis=1), den[idx].mean(axis=1)
    draws = nums[dens > 0] / dens[dens > 0]
    return Estimate(point, float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5)), len(num))


def normalized_auc(run: RunResult) -> float:
    """Area under the validation curve divided by the budget: the mean success over training."""
    return area_under_curve(run.curve) / run.steps


def steps_to_threshold(run: RunResult, threshold: float) -> tuple[float, bool]:
    """(env steps to reach ``threshold``, reached?); a run that never does counts its budget."""
    steps = time_to_threshold(run.curve, threshold)
    return (float(run.steps), False) if steps is None else (float(steps), True)


def pooled(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """All seeds' held-out episodes as one evaluation."""
    return EvaluationResult(sum(r.episodes for r in results), sum(r.successes for r in results),
                            float(np.mean([r.mean_length for r in results])),
                            float(np.mean([r.mean_return for r in results])))


@dataclass(frozen=True)
class Verdict:
    """The guard's reading of one transfer mode against scratch, and which learner it keeps."""

    label: str  # "gain", "no gain" or "negative transfer"
    kept: str  # "transfer" or "scratch"
    reason: str


def guard(transfer: Sequence[RunResult], scratch: Sequence[RunResult]) -> Verdict:
    """Negative-transfer guard over paired runs (same seeds, same budget).

    Negative transfer: scratch's held-out success is higher with confidence (one-sided
    two-proportion test over the pooled episodes), or the paired difference in area under the
    curve is below zero with 95 % confidence. Gain: the area difference (or the held-out success)
    is above zero with confidence, and it is not negative. Otherwise no gain. The kept learner is
    the transfer on a gain, scratch on negative transfer, else whichever held-out success is
    higher (scratch on a tie: it needs no source).
    """
    t_final, s_final = pooled([r.final for r in transfer]), pooled([r.final for r in scratch])
    scratch_better, p_worse = better_with_confidence(s_final, t_final)
    transfer_better, p_better = better_with_confidence(t_final, s_final)
    diff = mean_interval([normalized_auc(a) - normalized_auc(b) for a, b in zip(transfer, scratch, strict=True)])
    curve_worse = diff.high is not None and diff.high < 0
    curve_better = diff.low is not None and diff.low > 0
    area = f"area difference {diff.show('{:+.3f}')}"
    if scratch_better or curve_worse:
        why = (f"held-out success {t_final.success_rate:.1%} vs scratch {s_final.success_rate:.1%} "
               f"(p = {p_worse:.3f}); " if scratch_better else "") + area
        return Verdict("negative transfer", "scratch", why)
    if curve_better or transfer_better:
        return Verdict("gain", "transfer", f"{area}; held-out p(better) = {p_better:.3f}")
    kept = "transfer" if t_final.success_rate > s_final.success_rate else "scratch"
    return Verdict("no gain", kept, f"{area}; held-out {t_final.success_rate:.1%} vs {s_final.success_rate:.1%}")


@dataclass(frozen=True)
class ModeSummary:
    """Every metric of one mode on one family, against the scratch runs of the same seeds."""

    mode: str
    jumpstart: Estimate
    time_to_threshold: Estimate
    reached: int
    asymptotic: Estimate
    auc_ratio: Estimate | None
    threshold_ratio: Estimate | None
    threshold_ratio_bound: str  # "" exact, "<=" / ">=" a bound (scratch / transfer runs never reached), "n/a"
    verdict: Verdict | None
    wall_s: Estimate


def summarize(mode: str, runs: Sequence[RunResult], scratch: Sequence[RunResult], threshold: float,
              seed: int = 0) -> ModeSummary:
    """Metrics of ``runs`` (one per seed) against ``scratch`` (the same seeds, in the same order)."""
    if [r.seed for r in runs] != [r.seed for r in scratch]:
        raise ValueError("transfer and scratch runs must pair up seed by seed")
    times = [steps_to_threshold(r, threshold) for r in runs]
    scratch_times = [steps_to_threshold(r, threshold) for r in scratch]
    censored = (not all(reached for _, reached in times), not all(reached for _, reached in scratch_times))
    bound = {(False, False): "", (False, True): "<=", (True, False): ">=", (True, True): "n/a"}[censored]
    ratio = ratio_interval([s for s, _ in times], [s for s, _ in scratch_times], seed)
    return ModeSummary(
        mode=mode,
        jumpstart=mean_interval([a.curve[0][1] - b.curve[0][1] for a, b in zip(runs, scratch, strict=True)]),
        time_to_threshold=mean_interval([steps for steps, _ in times]),
        reached=sum(reached for _, reached in times),
        asymptotic=mean_interval([r.final.success_rate for r in runs], (0.0, 1.0)),
        auc_ratio=ratio_interval([normalized_auc(r) for r in runs], [normalized_auc(r) for r in scratch], seed),
        threshold_ratio=None if bound == "n/a" else ratio,
        threshold_ratio_bound=bound,
        verdict=None if mode == "scratch" else guard(runs, scratch),
        wall_s=mean_interval([r.wall_s for r in runs]),
    )


__all__ = ["Estimate", "ModeSummary", "Verdict", "guard", "mean_interval", "normalized_auc", "pooled",
           "ratio_interval", "steps_to_threshold", "summarize"]
