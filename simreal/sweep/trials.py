"""Trial kinds a sweep can run: each turns a dict of config options into a JSON-able summary.

A kind names its options dataclass and its run function by import path, so listing the
kinds imports nothing heavy and a worker process imports only what its trials need.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialKind:
    """``config`` and ``run`` are ``"module:attribute"`` paths; ``run(config) -> dict``."""

    name: str
    config: str
    run: str
    doc: str

    def config_class(self) -> type:
        return _load(self.config)

    def runner(self) -> Callable[[Any], dict]:
        return _load(self.run)


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


KINDS: dict[str, TrialKind] = {k.name: k for k in (
    TrialKind("adapt", "simreal.learn.adapt:AdaptConfig", "simreal.sweep.trials:run_adapt",
              "adapt a policy's control head to a target (simreal adapt)"),
    TrialKind("evaluate", "simreal.sweep.trials:EvaluateTrial", "simreal.sweep.trials:run_evaluate",
              "seeded evaluation of a policy on a target or in simulation (simreal evaluate)"),
    TrialKind("calibrate", "simreal.sweep.trials:CalibrateTrial", "simreal.sweep.trials:run_calibrate",
              "record a target profile and calibrate it blind, scored against its truth (simreal bench calibrate)"),
    TrialKind("family-member", "simreal.bench.adapt_family:FamilyMemberTrial",
              "simreal.bench.adapt_family:run_family_member",
              "one target of a family bench: adapt with the baseline, the reach check where needed"),
    TrialKind("calibrate-profile", "simreal.bench.calibrate_profiles:ProfileTrial",
              "simreal.bench.calibrate_profiles:run_profile",
              "one profile of simreal bench calibrate: scored blind, or fitted if outside the model class"),
)}


def kind(name: str) -> TrialKind:
    if name not in KINDS:
        raise ValueError(f"unknown trial kind {name!r}; available: {', '.join(KINDS)}")
    return KINDS[name]


def build_config(kind_name: str, options: Mapping[str, Any]) -> Any:
    """The kind's options dataclass with ``options`` set; an error names an unknown option."""
    cls = kind(kind_name).config_class()
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"{kind_name} has no option(s) {', '.join(unknown)}; options: {', '.join(sorted(known))}")
    return dataclasses.replace(cls(), **options)


def option_types(kind_name: str) -> dict[str, type]:
    """Each option's type, for parsing command-line values."""
    cls = kind(kind_name).config_class()
    return typing.get_type_hints(cls)


# ----- the kinds' options and run functions -----

@dataclass
class EvaluateTrial:
    """Seeded evaluation episodes (``seed, seed + 1, ...``): a policy on a target profile, or in
    simulation; a chunk of a larger evaluation is one such trial (``simreal.sweep.chunks``)."""

    policy: str = "panda_grasp"
    target: str = ""
    randomization: str = "default"
    episodes: int = 100
    seed: int = 3_000_000
    encoder_offsets: str = ""


def run_evaluate(config: EvaluateTrial) -> dict:
    """The summary and every episode's outcome (so chunks merge into exactly the serial numbers)."""
    from ..evaluation import run_episodes, summarize
    from ..learn.adapt import load_policy
    from ..policy_evaluation import evaluation_env

    policy = load_policy(config.policy)
    env = evaluation_env(policy, config.target, config.randomization, config.encoder_offsets)
    try:
        outcomes = run_episodes(env, policy.act, range(config.seed, config.seed + config.episodes))
    finally:
        env.close()
    result = summarize(outcomes)
    return {"success_rate": result.success_rate, "interval_95": list(result.interval),
            "successes": result.successes, "episodes": result.episodes, "mean_length": result.mean_length,
            "mean_return": result.mean_return, "outcomes": [dataclasses.asdict(o) for o in outcomes]}


def run_adapt(config: Any) -> dict:
    from ..learn.adapt import adapt

    report = adapt(config).report
    summary = {key: report[key]["success_rate"] for key in ("in_sim", "zero_shot", "final", "from_scratch")
               if isinstance(report.get(key), dict)}
    run = report["adaptation"]
    summary.update(verdict=report["verdict"], kept=run["kept"]["name"], passed_at_steps=run["passed_at_steps"],
                   steps=run["steps"])
    return summary


@dataclass
class CalibrateTrial:
    """Record a target profile with the default routine and calibrate it blind, as ``simreal bench calibrate``."""

    target: str = "weak_motors"
    trajectories: int = 10
    seconds: float = 6.0
    seed: int = 0
    workers: int = 1


def run_calibrate(config: CalibrateTrial) -> dict:
    from ..calibration.bench import bench_profile
    from ..assets import find

    s = bench_profile(find("target", config.target), config.seed, config.workers, config.trajectories,
                      config.seconds)
    return {"passes": s.passes, "differs": s.differs, "found": s.found, "nominal": s.nominal,
            "nominal_fine": s.nominal_fine, "identifiable": s.identifiable, "covered": s.covered,
            "misses": list(s.misses), "record_s": s.record_s, "calibrate_s": s.wall_s, "cpu_s": s.cpu_s,
            "converged": s.converged}


__all__ = ["KINDS", "CalibrateTrial", "EvaluateTrial", "TrialKind", "build_config", "kind", "option_types"]
