"""Robot drivers served behind the bridge with ``python -m simreal.bridge serve --driver module:Class``.

A driver is any class implementing the ``Robot`` protocol (``simreal.robot``) whose
constructor takes the robot's ``RobotSpec``; ``echo.EchoRobot`` is the smallest one.
"""

from .loading import DriverError, load_driver

__all__ = ["DriverError", "load_driver"]
