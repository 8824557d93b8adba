"""Load a user's driver class by ``module:Class`` and check it is a Robot before serving it."""

from __future__ import annotations

import importlib

from ..robot import Robot
from ..specs import RobotSpec

REQUIRED = ("reset", "apply", "step", "close")


class DriverError(ValueError):
    """A driver that cannot be loaded or is not a Robot; the message names it and what is wrong."""


def load_driver(reference: str, spec: RobotSpec) -> Robot:
    """Import ``module:Class``, construct it with ``spec`` and check the Robot protocol."""
    module_name, _, class_name = reference.partition(":")
    if not module_name or not class_name:
        raise DriverError(f"--driver {reference!r}: expected 'module:Class' (e.g. mypkg.arm:MyArm)")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise DriverError(f"--driver {reference!r}: cannot import it ({err})") from None
    robot = cls(spec)
    missing = [name for name in REQUIRED if not callable(getattr(robot, name, None))]
    missing += [name for name in ("spec", "control_period") if not hasattr(robot, name)]
    if missing:
        raise DriverError(f"--driver {reference!r}: not a Robot, it lacks {', '.join(missing)} "
                          "(see simreal.robot.Robot)")
    if robot.spec.name != spec.name or robot.spec.dof != spec.dof:
        raise DriverError(f"--driver {reference!r}: reports robot {robot.spec.name!r} ({robot.spec.dof} joints), "
                          f"served as {spec.name!r} ({spec.dof} joints)")
    return robot
