"""simreal: sim-to-real transfer for robot grasping (PyBullet, gymnasium, Stable-Baselines3)."""

from .kernels import pin_kernels

pin_kernels()  # before anything loads numpy or torch: the same kernels on every x86-64 machine

from .quiet import quiet_stdout  # noqa: E402

with quiet_stdout():
    import pybullet  # noqa: F401  (its import prints a build banner)

from .envs import register_envs  # noqa: E402

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__"]
