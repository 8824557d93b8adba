"""simreal: sim-to-real transfer for robot grasping (PyBullet, gymnasium, Stable-Baselines3)."""

from .quiet import quiet_stdout

with quiet_stdout():
    import pybullet  # noqa: F401  (its import prints a build banner)

from .envs import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__"]
