"""One measured transfer: a mode from a source checkpoint against scratch, same seed and budget.

Also the report of the benchmark (every mode on every family) as tables of :class:`ModeSummary`
and one JSON file, so the CLI only prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..atomic import write_json
from ..specs.maze import MazeSpec
from .agent import MazeDQN
from .bench import BenchPlan, BenchResult
from .checkpoint import MazeWeights
from .metrics import ModeSummary, summarize
from .options import DQNOptions, Schedule
from .plot import learning_curves
from .transfer import RunResult, train_run


def source_options(source: MazeWeights, options: DQNOptions) -> DQNOptions:
    """``options`` with the source's feature and head architecture (the weights fix them)."""
    stored = source.options
    return replace(options, channels=stored.channels, features_dim=stored.features_dim, head=stored.head)


@dataclass
class Comparison:
    """A transfer run, the scratch run it is measured against, and what the guard made of them."""

    run: RunResult
    scratch: RunResult
    summary: ModeSummary
    model: MazeDQN
    scratch_model: MazeDQN
    options: DQNOptions  # the options both ran with (the source's architecture)

    @property
    def kept_model(self) -> MazeDQN:
        return self.model if self.summary.verdict is None or self.summary.verdict.kept == "transfer" else \
            self.scratch_model


def compare_with_scratch(spec: MazeSpec, mode: str, source: MazeWeights, options: DQNOptions, seed: int,
                         schedule: Schedule, threshold: float, feature_lr_scale: float = 0.1,
                         note: Callable[[str], None] | None = None) -> Comparison:
    """Train ``mode`` from ``source`` and a scratch agent on ``spec`` with the same seed and budget."""
    say = note or (lambda message: None)
    options = source_options(source, options)
    run, model = train_run(spec, mode, options, seed, schedule, source, feature_lr_scale,
                           lambda steps, success: say(f"{mode}: {steps:,} steps, validation {success:.0%}"))
    scratch, scratch_model = train_run(spec, "scratch", options, seed, schedule, None, feature_lr_scale,
                                       lambda steps, success: say(f"scratch: {steps:,} steps, validation "
                                                                  f"{success:.0%}"))
    summary = summarize(mode, [run], [scratch], threshold)
    return Comparison(run, scratch, summary, model, scratch_model, options)


def summary_json(summary: ModeSummary) -> dict:
    """A ModeSummary as plain JSON (``None`` for a ratio with no denominator)."""
    return asdict(summary)


def bench_summaries(result: BenchResult, threshold: float) -> dict[str, list[ModeSummary]]:
    """Per family, every mode's metrics against that family's scratch runs."""
    return {family: [summarize(mode, runs, modes["scratch"], threshold) for mode, runs in modes.items()]
            for family, modes in result.runs.items()}


def write_bench_report(plan: BenchPlan, result: BenchResult, threshold: float) -> dict[str, Path]:
    """report.json (plan, summaries, every run) and learning_curves.png in the plan's folder."""
    out = plan.out_dir
    summaries = bench_summaries(result, threshold)
    report = {
        "plan": {"source": plan.source, "families": plan.families, "modes": plan.modes, "seeds": plan.seeds,
                 "options": asdict(plan.options), "source_schedule": asdict(plan.source_schedule),
                 "schedule": asdict(plan.schedule), "feature_lr_scale": plan.feature_lr_scale},
        "threshold": threshold,
        "wall_s": result.wall_s,
        "sources": [r.to_json() for r in result.sources],
        "summaries": {f: [summary_json(s) for s in rows] for f, rows in summaries.items()},
        "runs": {f: {m: [r.to_json() for r in runs] for m, runs in modes.items()} for f, modes in result.runs.items()},
    }
    paths = {"report": write_json(out / "report.json", report)}
    paths["plot"] = learning_curves(result.runs, threshold, out / "learning_curves.png",
                                    f"maze transfer from {plan.source} ({len(plan.seeds)} seeds, 95 % bands)")
    return paths


__all__ = ["Comparison", "bench_summaries", "compare_with_scratch", "source_options", "summary_json",
           "write_bench_report"]
