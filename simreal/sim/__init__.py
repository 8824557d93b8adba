"""PyBullet simulation: the world, the simulated robot and domain randomization."""

from .latency import CommandDelay
from .randomizer import DomainRandomizer, Randomizer
from .sim_robot import SimRobot
from .world import World

__all__ = ["CommandDelay", "DomainRandomizer", "Randomizer", "SimRobot", "World"]
