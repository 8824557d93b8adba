"""Kinematics: forward kinematics and Jacobians of the nominal robot model.

Controllers compute from *measured* joints, as a real robot's controller does; this
model lives in its own PyBullet client so it works the same whether the robot is
simulated, perturbed or on the other end of a network bridge.
"""

from __future__ import annotations

import numpy as np
import pybullet

from . import assets
from .quiet import quiet_stdout
from .specs import RobotSpec


class Kinematics:
    """FK of the tool centre point (TCP) and its 6 x dof Jacobian for a RobotSpec."""

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        with quiet_stdout():
            self._cid = pybullet.connect(pybullet.DIRECT)
            self._uid = pybullet.loadURDF(str(assets.urdf_path(spec)), spec.base_position,
                                          useFixedBase=True, physicsClientId=self._cid)
        names = {}
        movable = []
        for j in range(pybullet.getNumJoints(self._uid, physicsClientId=self._cid)):
            info = pybullet.getJointInfo(self._uid, j, physicsClientId=self._cid)
            names[info[1].decode()] = j
            if info[12].decode() == spec.ee_link:
                self._ee = j
            if info[2] != pybullet.JOINT_FIXED:
                movable.append(j)
        self._arm = [names[n] for n in spec.joint_names]
        self._arm_columns = [movable.index(j) for j in self._arm]
        self._n_movable = len(movable)
        self._q: bytes = b""
        self._q_list: list[float] = []
        self._pose = None
        link = pybullet.getLinkState(self._uid, self._ee, physicsClientId=self._cid)
        inv_pos, inv_orn = pybullet.invertTransform(link[2], link[3])
        # calculateJacobian wants the point in the link's inertial frame
        self._tcp_in_inertial = pybullet.multiplyTransforms(inv_pos, inv_orn, spec.tcp_offset, (0, 0, 0, 1))[0]

    def _set(self, q: np.ndarray) -> None:
        key = np.asarray(q, dtype=float).tobytes()
        if key == self._q:
            return
        values = np.asarray(q, dtype=float).tolist()  # PyBullet parses Python floats fastest
        pybullet.resetJointStatesMultiDof(self._uid, self._arm, [[v] for v in values], physicsClientId=self._cid)
        self._q = key
        self._q_list = values
        self._pose: tuple[np.ndarray, np.ndarray] | None = None

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (m) and orientation (x, y, z, w) in the world for joints ``q``."""
        self._set(q)
        if self._pose is None:
            link = pybullet.getLinkState(self._uid, self._ee, computeForwardKinematics=1,
                                         physicsClientId=self._cid)
            pos, orn = pybullet.multiplyTransforms(link[4], link[5], self.spec.tcp_offset, (0, 0, 0, 1))
            self._pose = (np.array(pos), np.array(orn))
        return self._pose[0].copy(), self._pose[1].copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """6 x dof Jacobian (linear rows first) of the TCP for joints ``q``."""
        self._set(q)
        full = [0.0] * self._n_movable
        for col, value in zip(self._arm_columns, self._q_list, strict=True):
            full[col] = value
        zeros = [0.0] * self._n_movable
        lin, ang = pybullet.calculateJacobian(self._uid, self._ee, self._tcp_in_inertial, full, zeros,
                                              zeros, physicsClientId=self._cid)
        return np.array((*lin, *ang))[:, self._arm_columns]

    def close(self) -> None:
        if self._cid is not None:
            try:
                pybullet.disconnect(self._cid)
            except Exception:  # already gone, or pybullet torn down at interpreter exit
                pass
            self._cid = None

    def __del__(self) -> None:
        self.close()
