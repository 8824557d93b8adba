"""The maze transfer benchmark: every transfer mode on a helpful and a misleading family, over seeds.

For each seed a source agent is trained on the source layout; then for each family and mode a
target run starts from that seed's source (or from scratch) on the family's layout for that seed
(members are taken in turn: seed i uses member i mod n). Runs are independent processes'
work, each a pure function of its job, so the numbers do not depend on the number of workers.
Every finished run is written to the run folder and reused when the benchmark is run again
with the same settings (an interrupted benchmark resumes).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_json
from .options import MODES, DQNOptions, Schedule
from .transfer import RunResult


@dataclass(frozen=True)
class Job:
    """One training run of the benchmark (a source run when ``mode`` is ``"source"``)."""

    layout: str
    mode: str
    seed: int
    options: DQNOptions
    schedule: Schedule
    source: str | None = None  # checkpoint folder of the source agent
    feature_lr_scale: float = 0.1
    source_key: str = ""  # the source job's key: a retrained source invalidates the runs from it

    def key(self) -> str:
        """Hash of everything the result depends on: settings, the layout's content, the source's job."""
        from .. import assets

        fingerprint = assets.maze_spec(self.layout).fingerprint()
        data = json.dumps({**asdict(self), "source": None, "layout": fingerprint}, sort_keys=True, default=str)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def run_job(job: Job, out: str) -> RunResult:
    """Run ``job`` (or read its earlier result from ``out``) and write its result there."""
    from .. import assets
    from .checkpoint import load_agent, save_agent
    from .transfer import train_run

    record = Path(out) / f"{Path(job.layout).stem}_{job.mode}_{job.seed}.json"
    checkpoint = Path(out) / f"source_{job.seed}"
    if record.is_file() and (job.mode != "source" or checkpoint.is_dir()):
        data = json.loads(record.read_text())
        if data.get("key") == job.key():
            return RunResult.from_json(data["result"])
    spec = assets.maze_spec(job.layout)
    source = load_agent(job.source) if job.source else None
    mode = "scratch" if job.mode == "source" else job.mode
    result, model = train_run(spec, mode, job.options, job.seed, job.schedule, source, job.feature_lr_scale)
    if job.mode == "source":
        save_agent(checkpoint, model, spec, job.options,
                   metrics={"success_rate": result.final.success_rate}, seed=job.seed)
    write_json(record, {"key": job.key(), "result": result.to_json()})
    return result


@dataclass
class BenchPlan:
    """What the benchmark runs: layouts, modes, seeds, budgets."""

    source: str
    families: dict[str, tuple[str, ...]]
    modes: tuple[str, ...]
    seeds: tuple[int, ...]
    options: DQNOptions
    source_schedule: Schedule
    schedule: Schedule
    feature_lr_scale: float = 0.1
    workers: int = 2
    out_dir: Path = field(default_factory=lambda: Path("runs/bench_maze"))

    def __post_init__(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if unknown:
            raise ValueError(f"modes {unknown}: expected some of {', '.join(MODES)}")
        if "scratch" not in self.modes:
            self.modes = ("scratch", *self.modes)  # every metric is against scratch

    def source_jobs(self) -> list[Job]:
        return [Job(self.source, "source", s, self.options, self.source_schedule) for s in self.seeds]

    def target_jobs(self) -> list[tuple[str, Job]]:
        jobs = []
        sources = {job.seed: job.key() for job in self.source_jobs()}
        for family, layouts in self.families.items():
            for i, seed in enumerate(self.seeds):
                source = str(self.out_dir / "runs" / f"source_{seed}")
                for mode in self.modes:
                    reuse = mode != "scratch"
                    jobs.append((family, Job(layouts[i % len(layouts)], mode, seed, self.options, self.schedule,
                                             source if reuse else None, self.feature_lr_scale,
                                             sources[seed] if reuse else "")))
        return jobs


@dataclass(frozen=True)
class BenchResult:
    """Source runs, and per family the runs of every mode in seed order."""

    sources: tuple[RunResult, ...]
    runs: dict[str, dict[str, tuple[RunResult, ...]]]
    wall_s: float


def _run_all(jobs: Sequence[Job], out: Path, workers: int, note: Callable[[str], None], what: str
             ) -> list[RunResult]:
    if workers <= 1:
        results = []
        for i, job in enumerate(jobs):
            note(f"{what}: {job.layout} {job.mode} seed {job.seed} ({i + 1}/{len(jobs)})")
            results.append(run_job(job, str(out)))
        return results
    context = multiprocessing.get_context("spawn")  # no forked torch state
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(run_job, job, str(out)) for job in jobs]
        results = []
        for i, future in enumerate(futures):
            results.append(future.result())
            note(f"{what}: {i + 1}/{len(jobs)} runs done")
        return results


def run_bench(plan: BenchPlan, note: Callable[[str], None] | None = None) -> BenchResult:
    """Train the sources, then every (family, mode, seed) run; see the module docstring."""
    import time

    say = note or (lambda message: None)
    start = time.perf_counter()
    out = plan.out_dir / "runs"
    sources = _run_all(plan.source_jobs(), out, plan.workers, say, "source")
    pairs = plan.target_jobs()
    results = _run_all([job for _, job in pairs], out, plan.workers, say, "transfer")
    runs: dict[str, dict[str, list[RunResult]]] = {f: {m: [] for m in plan.modes} for f in plan.families}
    for (family, job), result in zip(pairs, results, strict=True):
        runs[family][job.mode].append(result)
    frozen = {f: {m: tuple(r) for m, r in modes.items()} for f, modes in runs.items()}
    return BenchResult(tuple(sources), frozen, time.perf_counter() - start)


__all__ = ["BenchPlan", "BenchResult", "Job", "run_bench", "run_job"]
