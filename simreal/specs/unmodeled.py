"""Effects a target has that no ``DynamicsParams`` field expresses (a profile's ``unmodeled:``).

Real arms have play in their gears, servos that ignore small errors, dry friction that
holds a joint until it breaks away, commands rounded to an interface's resolution, a link
whose delay varies and that sometimes loses a command. The training simulator models none
of these, so calibration cannot fit them: a target carrying them tests whether the
toolkit notices (a fit that says it does not explain the data) and copes (adaptation).
They apply on any engine (``simreal.sim.unmodeled``, ``simreal.sim.friction``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .fields import SpecError
from .param_table import param, per_joint, read_section


@dataclass(frozen=True)
class UnmodeledEffects:
    """Command-path and friction effects; all zero (the default) is none.

    Per-joint fields take one number for every arm joint or one per joint.
    """

    backlash: tuple[float, ...] = param((), "rad", "gear play: the joint's target follows the command only once "
                                        "the play is taken up, so it lags a reversal and settles half the play "
                                        "short of a target", 0.0, 0.2, kind="per_joint", shown="none")
    deadband: tuple[float, ...] = param((), "rad", "servo deadband: a command closer than this to the target held "
                                        "is ignored", 0.0, 0.2, kind="per_joint", shown="none")
    quantization: tuple[float, ...] = param((), "rad", "command resolution: targets are rounded to multiples of it",
                                            0.0, 0.1, kind="per_joint", shown="none")
    coulomb_friction: tuple[float, ...] = param((), "N*m", "kinetic (Coulomb) friction torque of a moving joint",
                                                0.0, 100.0, kind="per_joint", shown="none")
    static_friction: tuple[float, ...] = param((), "N*m", "breakaway (static) friction torque of a joint at rest, "
                                               "at least coulomb_friction", 0.0, 100.0,
                                               kind="per_joint", shown="coulomb_friction")
    stribeck_velocity: float = param(0.05, "rad/s", "speed over which friction falls from static to Coulomb",
                                     0.001, 10.0)
    latency_jitter: int = param(0, "control steps", "extra delay of each command, drawn uniformly from 0 to this "
                                "(on top of dynamics.latency_steps); a command overtaken by a newer one is discarded",
                                0, 20, kind="integer")
    drop_rate: float = param(0.0, "probability", "chance that a command is lost on the link (the robot keeps the "
                             "target it had)", 0.0, 0.9)

    def any(self) -> bool:
        """True when at least one effect is present."""
        return self.friction_present() or self.command_path_present()

    def command_path_present(self) -> bool:
        """Effects on the way from a command to the motors (``CommandPath``)."""
        per_joint_set = any(v > 0 for name in ("backlash", "deadband", "quantization") for v in getattr(self, name))
        return per_joint_set or self.latency_jitter > 0 or self.drop_rate > 0

    def friction_present(self) -> bool:
        """Joint friction, which the engine itself must apply (``JointFriction``)."""
        return any(v > 0 for v in self.coulomb_friction + self.static_friction)


def unmodeled_from_mapping(data: object, source: str, prefix: str = "unmodeled") -> UnmodeledEffects:
    """UnmodeledEffects from a mapping; static friction below Coulomb friction is an error."""
    effects = read_section(UnmodeledEffects, data, source, prefix)
    if effects.static_friction:
        dof = max(len(effects.static_friction), len(effects.coulomb_friction), 1)
        coulomb = per_joint(effects.coulomb_friction, dof, 0.0)
        static = per_joint(effects.static_friction, dof, 0.0)
        if len(coulomb) == len(static) and (static < coulomb).any():
            raise SpecError(source, f"{prefix}.static_friction", list(effects.static_friction),
                            f"values at least coulomb_friction ({list(effects.coulomb_friction)})")
    return effects


UNMODELED_NAMES: tuple[str, ...] = tuple(f.name for f in fields(UnmodeledEffects))

__all__ = ["UNMODELED_NAMES", "UnmodeledEffects", "unmodeled_from_mapping"]
