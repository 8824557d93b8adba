"""What a calibration knows so far: per coordinate, a value, its sigma and who measured it.

Every stage returns ``Estimate``s for the coordinates it was given; the table keeps them
and turns them into the dynamics the next stage replays with. Two rules hold for every
field alike:

- a field the data cannot see (infinite sigma) is not moved: it stays at its nominal (or
  ``--known``) value and is reported not identifiable;
- a field whose estimate lies within ``SNAP`` sigmas of nominal is nominal: the data do
  not ask for anything else, and moving it would only add the noise of its reading.

A coordinate is identifiable when its sigma is within the field's bar (``parameters.bar``:
10 % of its value, at least its resolution); no sigma is taken below a third of the field's
resolution (``parameters.RESOLUTION``), below which an estimate is as good as exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..specs import DynamicsParams
from .parameters import RESOLUTION, Coordinate, bar, nominal_value, to_dynamics

SNAP = 2.0  # sigmas: an estimate this close to nominal is nominal


@dataclass
class Estimate:
    """One coordinate's value and sigma (the field's units; inf: unseen), as ``stage`` measured it."""

    coord: Coordinate
    value: float
    sigma: float
    stage: str
    identifiable: bool = False
    note: str = ""
    convention: bool = False  # the value is one of several the data cannot tell apart: kept, never identifiable

    @property
    def label(self) -> str:
        return self.coord.label

    @property
    def seen(self) -> bool:
        return bool(np.isfinite(self.sigma))


def settle(estimate: Estimate, nominal: float) -> Estimate:
    """The estimate under the table's two rules (see the module docstring), its identifiability set.
    Distances to nominal are measured in the coordinate's own units (relative on a log axis)."""
    out = dataclasses.replace(estimate)
    if not out.seen:
        out.value, out.identifiable = nominal, False
        return out
    out.sigma = max(out.sigma, RESOLUTION.get(out.coord.name, 0.0) / 3)  # closer than the resolution is exact
    out.identifiable = bool(out.sigma <= bar(out.coord.name, out.value if out.value else nominal))
    c = out.coord
    x = c.coordinate(out.value)
    distance = abs(x - c.coordinate(nominal)) / max(out.sigma / max(c.derivative(x), 1e-12), 1e-12)
    if distance <= SNAP or (not out.identifiable and not out.convention and distance <= 3):
        out.value = nominal
    out.identifiable = out.identifiable and not out.convention
    return out


class Estimates:
    """The running table: ``base`` (nominal with the known fields) overlaid by every estimate."""

    def __init__(self, base: DynamicsParams, dof: int) -> None:
        self.base, self.dof = base, dof
        self.table: dict[str, Estimate] = {}
        self.order: list[str] = []

    def nominal(self, coord: Coordinate) -> float:
        value = getattr(self.base, coord.name)
        if coord.joint is not None:
            return float(value[coord.joint]) if value else nominal_value(coord.name, coord.joint)
        return float(value)

    def put(self, estimates: list[Estimate]) -> None:
        """Keep each estimate (settled) unless the table already holds a tighter one of that coordinate."""
        for estimate in estimates:
            settled = settle(estimate, self.nominal(estimate.coord))
            old = self.table.get(settled.label)
            if old is not None and old.sigma <= settled.sigma:
                continue
            if settled.label not in self.table:
                self.order.append(settled.label)
            self.table[settled.label] = settled

    def pinned(self, coord: Coordinate) -> bool:
        estimate = self.table.get(coord.label)
        return estimate is not None and estimate.identifiable

    def get(self, coord: Coordinate) -> Estimate | None:
        return self.table.get(coord.label)

    def dynamics(self) -> DynamicsParams:
        """``base`` with every estimate's value."""
        coords = [e.coord for e in self.table.values()]
        if not coords:
            return self.base
        x = np.array([c.coordinate(e.value) for c, e in zip(coords, self.table.values(), strict=True)])
        return to_dynamics(self.base, coords, x, self.dof)

    def __iter__(self):
        return (self.table[label] for label in self.order)
