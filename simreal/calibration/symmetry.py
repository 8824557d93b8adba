"""Known symmetries of the simulated physics: directions no recording can resolve.

The arm and fingers are stiff position-controlled motors, so against a cube of a few
hundred grams they move as commanded whatever the cube weighs. The cube then feels only
forces proportional to its mass (gravity, table friction, inertia) and the grip
(gripper force x friction). Scaling ``object_mass_scale`` and ``gripper_force`` by the
same factor scales every force on the cube alike and leaves its motion, the joints and
the finger width unchanged: only their ratio is measured (``tests/test_calibration.py``
checks this on the simulator, with the slip outcome of a lift and shake). What breaks
the symmetry is tiny and swamped by contact jitter: the fingers' own inertia, and the
squeezed width, which shrinks by about a millimetre per doubling of the force.

A cost probe cannot be trusted to find such a direction: the replay cost of lifts and
shakes is jagged (a slip happens or not), so every small step either way looks like a
rise. So the fitted coordinates are told: along a symmetry, the uncertainty is the
prior's (``SYMMETRY_TOLERANCE``), the fields are flagged not identifiable, and the
measured combination (the ratio, on log axes) is reported with its own uncertainty.

A measurement from outside the replay can still break a symmetry: the joint torques of a
held, still cube weigh it (``weighing``). ``resolve`` then slides the fit along the
symmetry, which leaves the replay unchanged, to where that field equals the measurement;
the other fields follow through the measured ratio. The measured field becomes
identifiable; each other one is probed on its own and is identifiable only if the replay
cost rises within ``PROBE_STEP`` of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parameters import Coordinate
from .uncertainty import PROBE_STEP, Cost, Uncertainty, probe_direction

SYMMETRY_TOLERANCE = 1.0  # normalised units along a symmetry: the prior's width, not the data's


@dataclass(frozen=True)
class Symmetry:
    """Scaling ``fields`` (log axes) together by one factor leaves every reading unchanged."""

    fields: tuple[str, ...]
    why: str


SYMMETRIES = (
    Symmetry(("object_mass_scale", "gripper_force"),
             "stiff motors move the hand as commanded, so the cube's motion depends on grip force / mass only"),
)


def direction(symmetry: Symmetry, coords: list[Coordinate]) -> np.ndarray | None:
    """The unit direction (optimiser coordinates) of ``symmetry``, or None unless all its fields are fitted."""
    index = [i for i, c in enumerate(coords) if c.name in symmetry.fields]
    if len(index) != len(symmetry.fields) or not all(coords[i].log for i in index):
        return None
    v = np.zeros(len(coords))
    v[index] = 1.0 / np.sqrt(len(index))
    return v


def apply_symmetries(u: Uncertainty, coords: list[Coordinate], x: np.ndarray, jac: np.ndarray,
                     data: np.ndarray) -> Uncertainty:
    """``u`` with every known symmetry among the fitted coordinates marked unseen.

    ``jac`` and ``data`` (the scaled residuals' Jacobian and values at the optimum ``x``)
    give the measured combinations' sigma, as in ``uncertainty.analyse``."""
    s2 = float(np.sum(data**2) / max(len(data) - len(x), 1))
    info = jac.T @ jac / max(s2, 1e-12)
    for symmetry in SYMMETRIES:
        v = direction(symmetry, coords)
        if v is None:
            continue
        index = np.flatnonzero(v)
        extra = SYMMETRY_TOLERANCE * np.abs(v)
        base = u.sigma_probe if u.sigma_probe is not None else np.zeros(len(x))
        u.sigma_probe = np.sqrt(base**2 + extra**2)
        u.identifiable[index] = False
        u.sigma_value = np.array([c.derivative(float(xi)) * si for c, xi, si in zip(coords, x, u.sigma, strict=True)])
        u.combinations.append(_measured(symmetry, coords, x, info, index))
    return u


def _measured(symmetry: Symmetry, coords: list[Coordinate], x: np.ndarray, info: np.ndarray,
              index: np.ndarray) -> dict:
    """What the data do measure of a two-field symmetry: the log ratio (first - second field)."""
    labels = [coords[i].label for i in index]
    w = np.zeros(len(x))
    w[index[0]], w[index[-1]] = 1.0, -1.0
    seen = float(w @ info @ w)
    sigma = max(float(np.linalg.norm(w)) / np.sqrt(seen) if seen > 0 else np.inf, PROBE_STEP)
    scales = [coords[i].scale for i in index]
    ratio = float(np.exp(w @ x)) * scales[0] / scales[-1]
    return {"fields": labels, "axes": {label: "log" for label in labels}, "symmetry": symmetry.why,
            "trade_off": [{"weights": {label: float(v) for label, v in zip(labels, np.ones(len(labels)) /
                                                                                 np.sqrt(len(labels)), strict=True)},
                           "tolerance": SYMMETRY_TOLERANCE, "rise_at_step": 0.0}],
            "weights": {labels[0]: 1.0, labels[-1]: -1.0}, "value": float(w @ x), "sigma": min(sigma, 3.0),
            "ratio": {"of": f"{labels[0]} / {labels[-1]}", "value": ratio,
                      "relative_sigma": float(np.expm1(min(sigma, 3.0)))}}


def resolve(u: Uncertainty, coords: list[Coordinate], x: np.ndarray, name: str, value: float,
            sigma: float, cost: Cost) -> np.ndarray:
    """``x`` moved along the symmetry through field ``name`` to where it equals ``value`` (+- ``sigma``).

    With ``name`` pinned, each partner field is probed on its own (``cost``, two replays):
    its uncertainty is that tolerance and the measurement's, added in quadrature (log
    axes). ``u`` is updated in place and the combination notes how it was resolved.
    Returns ``x`` unchanged when no fitted symmetry involves ``name``."""
    for symmetry in SYMMETRIES:
        v = direction(symmetry, coords)
        if name not in symmetry.fields or v is None:
            continue
        combination = next(c for c in u.combinations if c.get("symmetry") == symmetry.why)
        i = next(k for k, c in enumerate(coords) if c.name == name)
        x = x + (coords[i].coordinate(value) - x[i]) / v[i] * v
        measured = sigma / max(value, 1e-12)  # log axis: relative
        centre = cost(x)
        for k in np.flatnonzero(v):
            own = measured if k == i else float(np.hypot(measured, probe_direction(cost, x, np.eye(len(x))[k],
                                                                                   centre)[0]))
            u.sigma_jacobian[k], u.sigma_bootstrap[k] = own, own
            if u.sigma_probe is not None:
                u.sigma_probe[k] = own
            u.identifiable[k] = own <= PROBE_STEP  # as the probe decides for any coordinate
        u.sigma_value = np.array([c.derivative(float(xi)) * si for c, xi, si in zip(coords, x, u.sigma, strict=True)])
        combination["resolved_by"] = {"field": name, "value": value, "sigma": sigma}
        pinned = {c.label for c, ok in zip(coords, u.identifiable, strict=True) if ok}
        for other in u.combinations:  # the probe's own notes on fields that are now pinned
            if "resolved_by" not in other and set(other["fields"]) <= pinned:
                other["resolved_by"] = combination["resolved_by"]
    return x
