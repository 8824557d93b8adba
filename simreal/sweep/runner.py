"""Running a sweep: one trial function, three ways to execute it (serially, on a local process
pool, on Ray), results gathered in trial order with failures kept as rows, never lost.

Every backend calls the same ``run_trial``, in a fresh process per worker with one torch
thread, so a trial's numbers depend on its options alone: the same seeds give the same
numbers serially, on a pool and on a Ray cluster.
"""

from __future__ import annotations

import itertools
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kernels import PINS, kernel_settings

BACKENDS = ("serial", "pool", "ray")


@dataclass(frozen=True)
class Trial:
    """One run: a trial kind (``simreal.sweep.trials.KINDS``) and the options it sets."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items()) or "(defaults)"


@dataclass(frozen=True)
class TrialResult:
    """What a trial returned (``result``), or why it failed (``error``, with the traceback)."""

    trial: Trial
    result: dict | None
    error: str | None
    wall_s: float
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return {"kind": self.trial.kind, "options": dict(self.trial.options), "result": self.result,
                "error": self.error, "wall_s": self.wall_s, "traceback": self.traceback}


def grid(axes: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every combination of the axes' values (the first axis varies slowest), each with ``fixed``."""
    names = list(axes)
    return [{**(fixed or {}), **dict(zip(names, values, strict=True))}
            for values in itertools.product(*(axes[n] for n in names))]


def run_trial(trial: Trial) -> TrialResult:
    """Run one trial; any exception becomes the result's ``error`` (the sweep goes on)."""
    import torch

    from .trials import build_config, kind

    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        result = kind(trial.kind).runner()(build_config(trial.kind, trial.options))
        return TrialResult(trial, result, None, time.perf_counter() - start)
    except Exception as error:  # a failed trial is a row of the results, not the end of the sweep
        return TrialResult(trial, None, f"{type(error).__name__}: {error}", time.perf_counter() - start,
                           traceback.format_exc())


Progress = Callable[[int, int, TrialResult], None]


def run_sweep(trials: Sequence[Trial], backend: str = "serial", workers: int = 2, ray_address: str | None = None,
              progress: Progress | None = None) -> list[TrialResult]:
    """Run ``trials`` on ``backend``; results come back in trial order."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    run = {"serial": _serial, "pool": _pool, "ray": _ray}[backend]
    done: dict[int, TrialResult] = {}
    for index, result in run(trials, workers, ray_address):
        done[index] = result
        if progress:
            progress(len(done), len(trials), result)
    return [done[i] for i in range(len(trials))]


def _serial(trials: Sequence[Trial], workers: int, address: str | None) -> Iterable[tuple[int, TrialResult]]:
    for index, trial in enumerate(trials):
        yield index, run_trial(trial)


def _pool(trials: Sequence[Trial], workers: int, address: str | None) -> Iterable[tuple[int, TrialResult]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_trial, trial): i for i, trial in enumerate(trials)}
        for future in as_completed(futures):
            index = futures[future]
            yield index, _collected(trials[index], future.result)


def _ray(trials: Sequence[Trial], workers: int, address: str | None) -> Iterable[tuple[int, TrialResult]]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install 'simreal[ray]'") from None
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        # the workers (on other nodes too) load their math libraries with this process's kernel pins
        pins = {name: value for name, value in kernel_settings().items() if name in PINS}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": pins}, **options)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_trial)
        pending = {remote.remote(trial): i for i, trial in enumerate(trials)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            yield index, _collected(trials[index], lambda ref=ready[0]: ray.get(ref))
    finally:
        if started:
            ray.shutdown()


def _collected(trial: Trial, get: Callable[[], TrialResult]) -> TrialResult:
    """A finished task's result; a worker that died (a crash, not an exception) is a failed row."""
    try:
        return get()
    except Exception as error:
        return TrialResult(trial, None, f"worker failed: {type(error).__name__}: {error}", 0.0,
                           traceback.format_exc())


__all__ = ["BACKENDS", "Trial", "TrialResult", "grid", "run_sweep", "run_trial"]
