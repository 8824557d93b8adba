"""EchoRobot: the smallest driver, a robot that is exactly where it was told to be.

Each ``step`` reports the commanded joint positions as measured (velocities from the
change), the commanded gripper width, and the scene's objects resting where the reset
put them. No physics runs, so a control loop through it costs only what the loop
itself costs: ``simreal bench bridge`` uses it to tell the bridge's overhead apart from
a simulated robot's physics. It is also the template for a driver of your own: replace
the bodies of ``reset``, ``apply`` and ``step`` with calls to your arm.
"""

from __future__ import annotations

import numpy as np

from .. import assets
from ..robot import JointCommand, ObjectPose, ResetRequest, RobotState
from ..specs import RobotSpec

CONTROL_PERIOD = 0.05  # s, the grasp task's control period


class EchoRobot:
    """A Robot with perfect tracking and still objects (see the module docstring)."""

    def __init__(self, spec: RobotSpec, scene: str = "tabletop") -> None:
        self.spec = spec
        self.control_period = CONTROL_PERIOD
        self._scene = assets.scene_spec(scene)
        self._positions = np.array(spec.home, dtype=float)
        self._gripper = spec.gripper.max_width
        self._objects: dict[str, ObjectPose] = {}
        self._time = 0.0
        self._pending: JointCommand | None = None

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        self._positions = np.array(self.spec.home, dtype=float)
        self._gripper, self._time, self._pending = self.spec.gripper.max_width, 0.0, None
        placements = dict(request.object_placements) if request is not None else {}
        self._objects = {o.name: self._resting(o, placements.get(o.name)) for o in self._scene.objects}
        return self._state(np.zeros(self.spec.dof))

    def apply(self, command: JointCommand) -> None:
        self._pending = command

    def step(self) -> RobotState:
        previous = self._positions
        if self._pending is not None:
            self._positions = np.asarray(self._pending.positions, dtype=float).copy()
            self._gripper = float(np.clip(self._pending.gripper, 0.0, self.spec.gripper.max_width))
        self._time += self.control_period
        return self._state((self._positions - previous) / self.control_period)

    def close(self) -> None:
        pass

    def _resting(self, obj: object, placed: tuple[float, float, float] | None) -> ObjectPose:
        half = np.asarray(obj.half_extents, dtype=float)
        middle = (np.asarray(self._scene.spawn_low) + np.asarray(self._scene.spawn_high)) / 2
        x, y, yaw = placed if placed is not None else (middle[0], middle[1], 0.0)
        z = self._scene.table_height + half[2]
        return ObjectPose(np.array([x, y, z]), np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)]), half)

    def _state(self, velocities: np.ndarray) -> RobotState:
        return RobotState(self._time, self._positions.copy(), velocities, self._gripper, dict(self._objects))
