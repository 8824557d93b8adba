"""Calibrating: run the declared stages (``stages``, ordered by ``plan``) over a recording.

``calibrate`` fits the named DynamicsParams fields, or, with none named, every field (the
blind default): each field is estimated by the stages that can read it from this recording
(``plan``); one the recording cannot inform is reported not identifiable and left nominal.
The stages fill one table of estimates (``estimates``), each replaying or modelling with
what the stages before it found. At the end the replayable trajectories are replayed under
nominal and fitted dynamics: the fit "explains the data" when its joint residual, in units
of the joints' noise, is no larger than recordings simulated from the fitted model itself
leave (``explained``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..specs import PARAM_NAMES, DynamicsParams, RobotSpec, SceneSpec, SpecError, dynamics_from_mapping
from .context import Context, Progress
from .estimates import Estimate, Estimates
from .explained import JOINT_NOISE, Consistency, consistency
from .parameters import Coordinate, check_names, coordinates
from .plan import Plan, make_plan
from .readings import MEASUREMENT_KINDS
from .replay import Simulated
from .residuals import summary
from .trajectory_file import Recording, check_recording

@dataclass
class Fit:
    """What a calibration found: ``dynamics`` is nominal (with the known fields) plus every estimate."""

    dynamics: DynamicsParams
    names: list[str]
    estimates: list[Estimate]
    plan: Plan
    residual_before: dict[str, float]
    residual_after: dict[str, float]
    converged: bool = True  # the fitted model explains the joints: its residual is what its own recordings leave
    wall_time_s: float = 0.0
    replays: int = 0
    replayed: list[int] = field(default_factory=list)  # trajectory indices of simulated_before / after
    simulated_before: list[Simulated] = field(default_factory=list)
    simulated_after: list[Simulated] = field(default_factory=list)
    known: dict[str, object] = field(default_factory=dict)  # fields held at given values (measured otherwise)
    notes: dict = field(default_factory=dict)  # per stage: what it read (for the report)
    consistency: Consistency | None = None  # the residual against what the fitted model's own recordings leave

    def of(self, name: str) -> list[Estimate]:
        """The estimates of field ``name`` (one per joint for a per-joint field)."""
        return [e for e in self.estimates if e.coord.name == name]

    def identifiable(self, name: str) -> bool:
        return all(e.identifiable for e in self.of(name))


def known_dynamics(known: Mapping[str, object] | None, names: list[str], dof: int) -> DynamicsParams:
    """Nominal dynamics with the ``known`` fields (measured by other means) set; validated.
    A field cannot be both known and fitted."""
    base = dynamics_from_mapping(dict(known or {}), "--known", "known")
    for name in known or {}:
        if name in names:
            raise SpecError("--known", f"known.{name}", known[name], "a field not also in --params")
        values = getattr(base, name)
        if isinstance(values, tuple) and values and len(values) != dof:
            raise SpecError("--known", f"known.{name}", list(values), f"{dof} values, one per arm joint")
    return base


def replayable(recording: Recording) -> list[int]:
    """The trajectories the residual summary replays: all but the measurements (``MEASUREMENT_KINDS``)."""
    kept = [i for i, t in enumerate(recording.trajectories) if t.kind not in MEASUREMENT_KINDS]
    return kept or list(range(len(recording.trajectories)))


def field_names(params: list[str] | None, known: Mapping[str, object] | None) -> list[str]:
    """The fields to fit in ``DynamicsParams`` order: ``params``, or (None) every field not known."""
    if params is None:
        return [n for n in PARAM_NAMES if n not in (known or {})]
    return sorted(check_names(list(params)), key=PARAM_NAMES.index)  # the fit must not depend on the order given


def calibrate(recording: Recording, params: list[str] | None, spec: RobotSpec, scene: SceneSpec, *,
              workers: int | None = None, seed: int = 0, progress: Progress | None = None,
              known: Mapping[str, object] | None = None) -> Fit:
    """Fit the named DynamicsParams fields of ``spec``'s robot to ``recording`` (None: every field).

    Fields in ``known`` are held at the given values (see ``known_dynamics``); the others not
    named stay nominal."""
    started = time.perf_counter()
    names = field_names(params, known)
    base = known_dynamics(known, names, spec.dof)
    check_recording(recording, spec)
    context = Context(recording, spec, scene, Estimates(base, spec.dof), workers, seed, progress)
    try:
        plan = make_plan(names, context)
        coords = coordinates(names, spec.dof)
        _run(plan, coords, context)
        context.estimates.put([Estimate(c, 0.0, np.inf, "", note="no reading in this recording")
                               for c in coords if c.name in plan.unread])
        fitted = context.dynamics
        indices = replayable(recording)
        before, after = context.replay(base, indices), context.replay(fitted, indices)
        pairs = [(recording.trajectories[i], s) for i, s in zip(indices, after, strict=True)]
        residual_after = summary(pairs)
        context.report("self-consistency", 0.95)
        check = consistency(context, fitted, indices, pairs,
                            [n for n in JOINT_NOISE if n not in names and n not in (known or {})])
        context.report("done", 1.0)
        found = [context.estimates.get(c) or Estimate(c, context.estimates.nominal(c), np.inf, "") for c in coords]
        return Fit(fitted, names, found, plan,
                   summary([(recording.trajectories[i], s) for i, s in zip(indices, before, strict=True)]),
                   residual_after, check.explains,
                   time.perf_counter() - started, context.replays, indices, before, after,
                   {name: getattr(base, name) for name in known or {}}, context.notes, check)
    finally:
        context.close()


def _run(plan: Plan, coords: list[Coordinate], context: Context) -> None:
    for k, step in enumerate(plan.steps):
        todo = [c for c in coords if c.name in step.fields and not context.estimates.pinned(c)]
        if not todo:
            continue
        context.report(step.stage.name, k / max(len(plan.steps), 1))
        context.estimates.put(step.stage.run(context, todo))
