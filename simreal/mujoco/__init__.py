"""The second engine: ``MujocoRobot``, a Robot simulated by MuJoCo from the same robot and
scene files as PyBullet (``model``), with the engine's own parameters (``parameters``)."""

from .parameters import ResolvedMujoco, resolve
from .robot import MujocoRobot

__all__ = ["MujocoRobot", "ResolvedMujoco", "resolve"]
