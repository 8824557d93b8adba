"""``simreal bench calibrate`` as sweep trials: one target profile per trial, on any backend.

A profile the simulator can express is recorded and calibrated blind, then scored against
its hidden truth (``calibration.bench``); one it cannot (another engine, unmodeled effects)
has the given fields fitted (``calibrate_unmodeled``). Each is one trial of
``simreal.sweep``, so the profiles run serially, on a local process pool or on Ray with
the same numbers, and a profile that fails is reported with its error while the others
still run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .calibrate_unmodeled import DEFAULT_FIELDS, UnmodeledFit


@dataclass
class ProfileTrial:
    """One profile of the bench: record ``trajectories`` x ``seconds`` of the default routine
    (seeded ``seed``), calibrate on ``workers`` replay processes, keep the fit in ``out`` if set."""

    target: str = ""
    seed: int = 0
    trajectories: int = 10
    seconds: float = 6.0
    workers: int = 1
    out: str = ""
    fields: str = ",".join(DEFAULT_FIELDS)  # fitted outside the model class, comma-separated


def run_profile(config: ProfileTrial) -> dict:
    """The profile's score (``{"blind": ...}``) or its fit outside the model class (``{"unmodeled": ...}``)."""
    from ..calibration.bench import bench_profile
    from ..specs import load_target
    from .calibrate_unmodeled import fit_unmodeled

    if load_target(config.target).in_model_class:
        score = bench_profile(Path(config.target), config.seed, config.workers, config.trajectories, config.seconds,
                              config.out or None)
        return {"blind": {**_plain(score), "covered": int(score.covered)}}
    fields = [f.strip() for f in config.fields.split(",") if f.strip()]
    fit = fit_unmodeled(config.target, fields, config.trajectories, config.seconds, config.seed,
                        config.workers, config.out or None)
    return {"unmodeled": {**_plain(fit), "params": list(fit.params)}}


def _plain(result: object) -> dict:
    """A result dataclass as JSON-ready data (paths as text, the verdict's numbers as a dict)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}


def _restored(data: dict) -> dict:
    """``_plain``'s data with its paths and verdict numbers as objects again."""
    from ..calibration.explained import Consistency

    out = {**data, **{k: None if data.get(k) is None else Path(data[k]) for k in ("fitted", "path")}}
    if isinstance(data.get("consistency"), dict):
        c = data["consistency"]
        out["consistency"] = Consistency(**{**c, "simulated": tuple(c["simulated"])})
    return out


@dataclass
class ProfileResults:
    """Scores of the blind profiles, fits of the others, and the profiles that failed (with why)."""

    scores: list = field(default_factory=list)
    unmodeled: list[UnmodeledFit] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    trials: list = field(default_factory=list)


def _score(data: dict) -> object:
    from ..calibration.bench import Score

    return Score(**_restored(data))


def measure_profiles(paths: Sequence[Path], config: ProfileTrial, backend: str = "serial", workers: int = 2,
                     ray_address: str | None = None,
                     progress: Callable[[int, int, object], None] | None = None) -> ProfileResults:
    """Every profile of ``paths`` as one trial (``config``'s other options shared).

    Serially each calibration replays on ``config.workers`` processes; on a pool or Ray,
    ``workers`` profiles run at once with one replay process each (a calibration's numbers
    do not depend on its replay processes)."""
    from dataclasses import replace

    from ..sweep import Trial, run_sweep

    shared = asdict(config) if backend == "serial" else asdict(replace(config, workers=1))
    trials = [Trial("calibrate-profile", {**shared, "target": str(p)}) for p in paths]
    results = ProfileResults(trials=run_sweep(trials, backend, workers, ray_address, progress))
    for path, trial in zip(paths, results.trials, strict=True):
        if not trial.ok:
            results.failed.append((Path(path).stem, trial.error))
        elif "blind" in trial.result:
            results.scores.append(_score(trial.result["blind"]))
        else:
            data = trial.result["unmodeled"]
            results.unmodeled.append(UnmodeledFit(**{**_restored(data), "params": tuple(data["params"])}))
    return results


def results_json(results: ProfileResults, backend: str, workers: int) -> dict:
    """Every trial's options, result or error, and wall time, as ``simreal sweep`` writes them."""
    return {"kind": "calibrate-profile", "backend": backend, "workers": workers,
            "trials": [t.to_json() for t in results.trials]}


__all__ = ["ProfileResults", "ProfileTrial", "measure_profiles", "results_json", "run_profile"]
