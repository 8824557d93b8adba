"""The hand's and the object's geometry as the excitation needs it, measured from the specs.

Pushing a cube with the closed fingers' face, or with one open finger, and touching the
table with the fingertips all need to know where the hand's surfaces are relative to its
tool centre point (TCP). Those distances differ from hand to hand, so they are measured
once per robot from its URDF: the robot is loaded into its own PyBullet client with the
fingers pointing down, and thin probe slabs are brought up to the hand from each side
(``getClosestPoints`` gives the gap), within the height band an object of the scene would
touch. The object's size and name come from the scene spec. Nothing here is specific to
one robot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pybullet

from ... import assets
from ...quiet import quiet_stdout
from ...specs import RobotSpec, SceneSpec

FAR = 0.3  # m from the TCP where a probe slab starts: beyond any hand
SLAB = 0.002  # m, half thickness of a probe slab
TIP_CLEARANCE = 0.012  # m the fingertips keep above the table in pushes: over its bumps, under the object's face


@dataclass(frozen=True)
class HandGeometry:
    """Distances (m) in the TCP frame with the fingers pointing down (``grasp_orientation``).

    The closing axis is the hand's y axis, the approach axis its z axis (down), the
    "face" axis its x axis. ``closed_half`` and ``face_ahead`` bound the closed fingers
    within the object's height band above the fingertips; ``finger_aside`` is an open
    finger's middle from the hand's axis along the closing axis and ``finger_ahead`` its
    half extent along x; ``tip_below`` is how far the fingertips reach below the TCP;
    ``underside`` how far above the fingertips the first part of the hand other than the
    fingers is (what must clear an object's top in a finger push)."""

    tip_below: float
    closed_half: float
    face_ahead: float
    finger_aside: float
    finger_ahead: float
    underside: float


@dataclass(frozen=True)
class ObjectGeometry:
    """The scene's first object (the one the excitation handles): its name and half extents (m), nominal size."""

    name: str
    half_extents: tuple[float, float, float]

    @property
    def half(self) -> float:
        """Half its width on the table (m): the larger horizontal half extent."""
        return float(max(self.half_extents[0], self.half_extents[1]))

    @property
    def height(self) -> float:
        return float(2 * self.half_extents[2])


def object_geometry(scene: SceneSpec) -> ObjectGeometry:
    obj = scene.objects[0]
    return ObjectGeometry(obj.name, tuple(float(s) / 2 for s in obj.size))


@functools.lru_cache(maxsize=8)
def hand_geometry(spec: RobotSpec, band: float) -> HandGeometry:
    """Measure ``spec``'s hand (cached per spec); ``band`` (m) is the height above the fingertips
    an object's side spans, the slice in which the fingers' extents matter."""
    with quiet_stdout():
        client = pybullet.connect(pybullet.DIRECT)
    try:
        return _Probe(spec, client).measure(band)
    finally:
        pybullet.disconnect(client)


class _Probe:
    """The robot at home in its own client, with probe slabs placed in the TCP frame."""

    def __init__(self, spec: RobotSpec, client: int) -> None:
        self.spec, self.client = spec, client
        self.uid = pybullet.loadURDF(str(assets.urdf_path(spec)), spec.base_position, useFixedBase=True,
                                     physicsClientId=client)
        names, links = {}, {}
        for j in range(pybullet.getNumJoints(self.uid, physicsClientId=client)):
            info = pybullet.getJointInfo(self.uid, j, physicsClientId=client)
            names[info[1].decode()] = j
            links[info[12].decode()] = j
        arm = [names[n] for n in spec.joint_names]
        self.fingers = [links[n] for n in spec.gripper.links]
        self.hand = list(range(arm[-1] + 1, pybullet.getNumJoints(self.uid, physicsClientId=client)))
        self.gripper = [names[n] for n in spec.gripper.joints]
        for joint, q in zip(arm, spec.home, strict=True):
            pybullet.resetJointState(self.uid, joint, q, physicsClientId=client)
        self.ee = links[spec.ee_link]

    def _open(self, width: float) -> None:
        drive = self.spec.gripper.drive_value(width)
        for joint, m in zip(self.gripper, self.spec.gripper.multipliers, strict=True):
            pybullet.resetJointState(self.uid, joint, drive * m, physicsClientId=self.client)

    def _frame(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and rotation matrix (columns: hand x, y, z) in the world."""
        state = pybullet.getLinkState(self.uid, self.ee, computeForwardKinematics=True, physicsClientId=self.client)
        pos, orn = pybullet.multiplyTransforms(state[4], state[5], self.spec.tcp_offset, (0, 0, 0, 1))
        return np.array(pos), np.array(pybullet.getMatrixFromQuaternion(orn)).reshape(3, 3)

    def extent(self, links: list[int], axis: np.ndarray, band: tuple[float, float] | None = None) -> float:
        """How far (m) along ``axis`` (hand frame) from the TCP the ``links`` reach, within the
        approach-axis ``band`` (distances below the TCP, m; None: all of them)."""
        tcp, rot = self._frame()
        axis = np.asarray(axis, dtype=float)
        depth = 0.05 if band is None else (band[1] - band[0]) / 2
        centre_z = 0.0 if band is None else (band[0] + band[1]) / 2
        half = [FAR, FAR, FAR]
        along = int(np.argmax(np.abs(axis)))
        half[along] = SLAB
        if along != 2:
            half[2] = depth
        centre = axis * FAR + np.array([0.0, 0.0, centre_z]) * (along != 2)
        shape = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half, physicsClientId=self.client)
        slab = pybullet.createMultiBody(0, shape, basePosition=(tcp + rot @ centre).tolist(),
                                        baseOrientation=_quaternion(rot), physicsClientId=self.client)
        try:
            gaps = [p[8] for link in links for p in pybullet.getClosestPoints(self.uid, slab, 2 * FAR, linkIndexA=link,
                                                                           physicsClientId=self.client)]
        finally:
            pybullet.removeBody(slab, physicsClientId=self.client)
        return FAR - SLAB - min(gaps) if gaps else 0.0

    def measure(self, band: float) -> HandGeometry:
        x, y, z = np.eye(3)
        self._open(0.0)
        tip = self.extent(self.fingers, z)
        slice_ = (tip - band, tip)  # below the TCP: from the tips up by the band
        closed_half = max(self.extent(self.fingers, y, slice_), self.extent(self.fingers, -y, slice_))
        face = max(self.extent(self.fingers, x, slice_), self.extent(self.fingers, -x, slice_))
        self._open(self.spec.gripper.max_width)
        outer = self.extent(self.fingers, y, slice_)
        inner = outer - 2 * self._finger_half_width(slice_)
        finger_ahead = max(self.extent(self.fingers[:1], x, slice_), self.extent(self.fingers[:1], -x, slice_))
        others = [link for link in self.hand if link not in self.fingers]
        lowest = self.extent(others, z) if others else -1.0  # below the TCP (negative: above it)
        return HandGeometry(tip_below=tip, closed_half=closed_half, face_ahead=face,
                            finger_aside=(outer + inner) / 2, finger_ahead=finger_ahead, underside=tip - lowest)

    def _finger_half_width(self, slice_: tuple[float, float]) -> float:
        """Half an open finger's thickness along the closing axis: the finger on the +y side,
        seen from +y (its outer face) and from the hand's axis (its inner face)."""
        _, y, _ = np.eye(3)
        outer = self.extent(self.fingers, y, slice_)
        tcp, rot = self._frame()
        shape = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[SLAB, SLAB, SLAB],
                                              physicsClientId=self.client)
        probe = pybullet.createMultiBody(0, shape, basePosition=tcp.tolist(), physicsClientId=self.client)
        try:  # the gap from the hand's axis (at the band's middle) to the nearest finger
            centre = tcp + rot @ np.array([0.0, 0.0, (slice_[0] + slice_[1]) / 2])
            pybullet.resetBasePositionAndOrientation(probe, centre.tolist(), (0, 0, 0, 1), physicsClientId=self.client)
            gaps = [p[8] for link in self.fingers for p in pybullet.getClosestPoints(
                self.uid, probe, FAR, linkIndexA=link, physicsClientId=self.client)]
        finally:
            pybullet.removeBody(probe, physicsClientId=self.client)
        inner = (min(gaps) + SLAB) if gaps else 0.0
        return max((outer - inner) / 2, 0.0)


def _quaternion(rot: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rot).as_quat().tolist()
