"""JointFriction: Coulomb friction with stiction on the arm joints, for any engine.

The friction torque's size follows a Stribeck curve: ``static`` at rest, falling to
``coulomb`` over ``stribeck_velocity``:

    |tau_f(v)| = coulomb + (static - coulomb) * exp(-(v / stribeck_velocity)^2)

Each engine applies it its own sound way. MuJoCo has dry friction as a constraint
(``dof_frictionloss``): the robot sets it to ``|tau_f(v)|`` before each physics step, so
a joint at rest holds until its drive exceeds the static torque (true sticking, solved
implicitly). PyBullet has no joint friction that coexists with its position motors, so
the torque ``-|tau_f(v)| tanh(v / v_smooth)`` is applied as an external joint torque at
every physics step; the motors' constraint, solved after it, holds a joint whose drive
is stronger. ``v_smooth`` is a tenth of the Stribeck velocity.
"""

from __future__ import annotations

import numpy as np

from ..specs.param_table import per_joint
from ..specs.unmodeled import UnmodeledEffects

SMOOTHING = 0.1  # the sign of the velocity is smoothed over this fraction of the Stribeck velocity


class JointFriction:
    """Friction torques of the arm joints (N m) as a function of their velocities (rad/s)."""

    def __init__(self, effects: UnmodeledEffects, dof: int) -> None:
        self.coulomb = per_joint(effects.coulomb_friction, dof, 0.0)
        self.static = per_joint(effects.static_friction, dof, self.coulomb)
        self.velocity = effects.stribeck_velocity

    def magnitude(self, velocities: np.ndarray) -> np.ndarray:
        """Size of the friction torque at these joint velocities (the Stribeck curve)."""
        v = np.asarray(velocities, dtype=float) / self.velocity
        return self.coulomb + (self.static - self.coulomb) * np.exp(-v * v)

    def torques(self, velocities: np.ndarray) -> np.ndarray:
        """Friction torque opposing the motion, with a smoothed sign (explicit engines)."""
        v = np.asarray(velocities, dtype=float)
        return -self.magnitude(v) * np.tanh(v / (SMOOTHING * self.velocity))
