"""A sweep as the CLI runs it: options -> trials -> results on disk and as one table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..atomic import write_json
from .parsing import parse_axes, parse_fixed
from .runner import Progress, Trial, TrialResult, grid, run_sweep
from .trials import option_types

RESULT_COLUMNS = 6  # result fields shown in the table (all of them are in the JSON)


@dataclass
class SweepReport:
    title: str
    columns: list[str]
    rows: list[tuple[str, ...]]
    notes: list[str] = field(default_factory=list)
    all_ok: bool = True


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def table(results: list[TrialResult], axes: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    keys: list[str] = []
    for r in results:
        for key in (r.result or {}):
            if key not in keys and len(keys) < RESULT_COLUMNS:
                keys.append(key)
    rows = [(*(_shown(r.trial.options.get(a)) for a in axes),
             *(_shown((r.result or {}).get(k, "")) for k in keys),
             f"{r.wall_s:.1f}", "ok" if r.ok else r.error or "") for r in results]
    return [*axes, *keys, "wall s", "status"], rows


def sweep_from_options(cfg: Any, progress: Progress | None = None) -> SweepReport:
    """Parse ``cfg.grid`` and ``cfg.fixed`` for ``cfg.kind``, run, write ``cfg.out``, tabulate."""
    types = option_types(cfg.kind)
    axes = parse_axes(cfg.kind, cfg.grid, types)
    trials = [Trial(cfg.kind, options) for options in grid(axes, parse_fixed(cfg.kind, cfg.fixed, types))]
    start = time.perf_counter()
    results = run_sweep(trials, cfg.backend, cfg.workers, cfg.ray_address or None, progress)
    wall = time.perf_counter() - start
    data: dict[str, Any] = {"kind": cfg.kind, "backend": cfg.backend, "workers": cfg.workers, "wall_s": wall,
                            "trials": [r.to_json() for r in results]}
    notes = [f"{cfg.backend} with {cfg.workers} workers: {wall:.1f} s for {len(trials)} trials"]
    if cfg.compare_serial:
        serial_start = time.perf_counter()
        serial = run_sweep(trials, "serial")
        serial_wall = time.perf_counter() - serial_start
        same = [a.result == b.result for a, b in zip(results, serial, strict=True)]
        data["serial"] = {"wall_s": serial_wall, "same_results": all(same)}
        notes.append(f"serial: {serial_wall:.1f} s; serial / {cfg.backend} wall-time ratio "
                     f"{serial_wall / wall:.2f}; results identical to serial: {'yes' if all(same) else 'NO'}")
    write_json(cfg.out, data)
    notes.append(f"results: {cfg.out}")
    failed = [r for r in results if not r.ok]
    notes += [f"failed: {r.trial.label()}: {r.error}" for r in failed]
    columns, rows = table(results, list(axes))
    title = f"Sweep: {len(trials)} {cfg.kind} trials ({len(failed)} failed)"
    return SweepReport(title, columns, rows, notes, not failed)


__all__ = ["SweepReport", "sweep_from_options", "table"]
