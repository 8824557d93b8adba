"""SceneView: pictures of what a robot reports, for any Robot.

It draws the robot's URDF at the *measured* joint positions and the objects at their
*perceived* poses, on the scene's table, in a PyBullet client of its own with the CPU
renderer (no GPU, no display). So the same view works for a simulated arm, a perturbed
target, a MuJoCo robot or a real arm behind the bridge, and it shows what the policy
sees (encoder bias and perception noise included), not a privileged ground truth.
"""

from __future__ import annotations

import math

import numpy as np
import pybullet

from . import assets
from .quiet import quiet_stdout
from .robot import RobotState
from .specs import RobotSpec, SceneSpec

OBJECT_COLOURS = ((0.85, 0.3, 0.2, 1.0), (0.2, 0.5, 0.85, 1.0), (0.3, 0.7, 0.3, 1.0))
TABLE_COLOUR = (0.72, 0.62, 0.5, 1.0)


class SceneView:
    """Renders RobotStates as RGB frames (``height x width x 3``, uint8), seen from a camera
    looking at ``target`` (m, world) from ``distance`` (m) at ``yaw`` and ``pitch`` (degrees)."""

    def __init__(self, spec: RobotSpec, scene: SceneSpec, width: int = 320, height: int = 240,
                 target: tuple[float, float, float] | None = None, distance: float = 1.2, yaw: float = 60.0,
                 pitch: float = -25.0) -> None:
        if width < 16 or height < 16:
            raise ValueError(f"frames need at least 16 x 16 pixels, got {width} x {height}")
        self.spec, self.scene, self.width, self.height = spec, scene, width, height
        with quiet_stdout():
            self._cid = pybullet.connect(pybullet.DIRECT)
            self._robot = pybullet.loadURDF(str(assets.urdf_path(spec)), spec.base_position, useFixedBase=True,
                                            physicsClientId=self._cid)
        self._arm = self._arm_joints()
        self._table()
        self._objects: dict[str, int] = {}
        centre = target or self._default_target()
        self._view = pybullet.computeViewMatrixFromYawPitchRoll(centre, distance, yaw, pitch, 0.0, 2,
                                                                physicsClientId=self._cid)
        self._projection = pybullet.computeProjectionMatrixFOV(50.0, width / height, 0.05, 5.0,
                                                               physicsClientId=self._cid)

    def _default_target(self) -> tuple[float, float, float]:
        """Half way between the robot's base and the middle of the spawn region, above the table."""
        s, base = self.scene, self.spec.base_position
        spawn = [(lo + hi) / 2 for lo, hi in zip(s.spawn_low, s.spawn_high, strict=True)]
        return ((base[0] + spawn[0]) / 2, (base[1] + spawn[1]) / 2, s.table_height + 0.25)

    def _arm_joints(self) -> tuple[list[int], list[int]]:
        names, gripper = {}, []
        for j in range(pybullet.getNumJoints(self._robot, physicsClientId=self._cid)):
            info = pybullet.getJointInfo(self._robot, j, physicsClientId=self._cid)
            names[info[1].decode()] = j
        gripper = [names[n] for n in self.spec.gripper.joints if n in names]
        return [names[n] for n in self.spec.joint_names], gripper

    def _table(self) -> None:
        s = self.scene
        half = [v / 2 for v in s.table_size]
        shape = pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=half, rgbaColor=TABLE_COLOUR,
                                           physicsClientId=self._cid)
        pybullet.createMultiBody(0.0, -1, shape, [s.table_center[0], s.table_center[1], s.table_height - half[2]],
                                 physicsClientId=self._cid)

    def _object(self, name: str, half_extents: np.ndarray) -> int:
        """A box the size of the perceived object's bounding box (made on first sight)."""
        if name not in self._objects:
            colour = OBJECT_COLOURS[len(self._objects) % len(OBJECT_COLOURS)]
            shape = pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=[float(v) for v in half_extents],
                                               rgbaColor=colour, physicsClientId=self._cid)
            self._objects[name] = pybullet.createMultiBody(0.0, -1, shape, [0, 0, -5], physicsClientId=self._cid)
        return self._objects[name]

    def frame(self, state: RobotState) -> np.ndarray:
        """The scene at ``state``: measured joints, the gripper opening, perceived objects."""
        arm, gripper = self._arm
        for joint, q in zip(arm, state.joint_positions, strict=True):
            pybullet.resetJointState(self._robot, joint, float(q), physicsClientId=self._cid)
        drive = self.spec.gripper.drive_value(float(state.gripper_width)) if math.isfinite(state.gripper_width) \
            else self.spec.gripper.open_position
        for joint, multiplier in zip(gripper, self.spec.gripper.multipliers, strict=False):
            pybullet.resetJointState(self._robot, joint, drive * multiplier, physicsClientId=self._cid)
        for name, pose in state.objects.items():
            body = self._object(name, pose.half_extents)
            pybullet.resetBasePositionAndOrientation(body, [float(v) for v in pose.position],
                                                     [float(v) for v in pose.orientation], physicsClientId=self._cid)
        _, _, rgba, _, _ = pybullet.getCameraImage(self.width, self.height, self._view, self._projection,
                                                   renderer=pybullet.ER_TINY_RENDERER, physicsClientId=self._cid)
        return np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3].copy()

    def close(self) -> None:
        if self._cid is not None:
            try:
                pybullet.disconnect(self._cid)
            except Exception:  # pybullet may already be torn down at interpreter exit
                pass
            self._cid = None

    def __del__(self) -> None:
        self.close()


__all__ = ["SceneView"]
