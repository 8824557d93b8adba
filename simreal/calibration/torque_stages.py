"""The stages that read the joint torques: the arm's load at still postures, and a weighed object.

Both are readings a replay cannot make: the position-controlled drives move the arm as
commanded whatever it weighs, so the joints hardly see the masses, while the torques that
hold it still carry them directly (``gravity``), and the torques of one pose held with and
without the object differ by its weight (``weighing``).
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .estimates import Estimate
from .gravity import MASS_FIELDS, fit_gravity, holding_poses
from .parameters import Coordinate
from .weighing import weigh


def gravity(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """Offsets of the joints gravity turns and the arm's mass fields, from the holding torques."""
    spec, dynamics = context.spec, context.dynamics
    free = np.zeros(spec.dof, dtype=bool)
    for c in coords:
        if c.name == "joint_offset":
            free[c.joint] = True
    masses = tuple(n for n in MASS_FIELDS if any(c.name == n for c in coords))
    poses = holding_poses(context.recording, spec, context.scene.table_height, dynamics.force_limit)
    reading = fit_gravity(poses, spec, context.scene, dynamics, masses, np.asarray(dynamics.offsets(spec.dof)), free)
    if reading is None:
        return [Estimate(c, 0.0, np.inf, "gravity", note=f"{len(poses)} still free postures: too few")
                for c in coords]
    context.notes["gravity"] = reading
    out = []
    for c in coords:
        if c.name == "joint_offset":
            out.append(Estimate(c, float(reading.offsets[c.joint]), float(reading.sigma[c.joint]), "gravity",
                                note="" if reading.seen[c.joint] else "gravity does not turn this joint"))
        else:
            out.append(Estimate(c, float(reading.masses[c.name]), reading.mass_sigma(c.name), "gravity"))
    return out


def weighing(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """``object_mass_scale`` from the held/empty torque pairs (``weighing.weigh``)."""
    (coord,) = coords
    found = weigh(context.recording, context.spec)
    nominal = context.scene.objects[0].mass
    if found is None:
        return [Estimate(coord, 1.0, np.inf, "weighing", note="no pose held with and without the object")]
    context.notes["weighing"] = {"mass_kg": found.mass, "sigma_kg": found.sigma, "pairs": found.pairs}
    return [Estimate(coord, found.mass / nominal, found.sigma / nominal, "weighing")]
