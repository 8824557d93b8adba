"""PyBullet simulation: the world, the simulated robot and domain randomization; the
unmodeled effects (command path, joint friction) that apply on any engine."""

from .friction import JointFriction
from .latency import CommandDelay
from .randomizer import DomainRandomizer
from .sim_robot import SimRobot
from .unmodeled import CommandPath
from .world import World

__all__ = ["CommandDelay", "CommandPath", "DomainRandomizer", "JointFriction", "SimRobot", "World"]
