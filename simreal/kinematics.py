"""Kinematics: forward kinematics and Jacobians of the nominal robot model.

Controllers compute from *measured* joints, as a real robot's controller does; this
model lives in its own PyBullet client so it works the same whether the robot is
simulated, perturbed or on the other end of a network bridge.

Loading a URDF costs far more than any query (its meshes are parsed) and every env and
controller holds a Kinematics, so the loaded model is shared: one client per URDF file,
base position and arm joints in each thread, kept while its thread lives. Every query sets
the joints it asks about first, so sharers never see each other's state.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import numpy as np
import pybullet

from . import assets
from .quiet import quiet_stdout
from .specs import RobotSpec


@dataclass
class _Model:
    """One loaded URDF in a DIRECT client, and the joints it was last set to."""

    cid: int
    uid: int
    q: bytes = b""
    q_list: list[float] = field(default_factory=list)
    version: int = 0

    def __del__(self) -> None:
        try:
            pybullet.disconnect(self.cid)
        except Exception:  # already gone, or pybullet torn down at interpreter exit
            pass


_LOADED = threading.local()  # per thread: sharers in two threads would race on the model's joints


def _shared_model(spec: RobotSpec) -> _Model:
    """This thread's loaded model of ``spec``'s URDF at its base, loaded on first use."""
    path = str(assets.urdf_path(spec))
    key = (path, os.stat(path).st_mtime_ns, tuple(spec.base_position), tuple(spec.joint_names))
    models: dict[tuple, _Model] = _LOADED.__dict__.setdefault("models", {})
    if key not in models:
        with quiet_stdout():
            cid = pybullet.connect(pybullet.DIRECT)
            uid = pybullet.loadURDF(path, spec.base_position, useFixedBase=True,  # no visuals: never drawn
                                    flags=pybullet.URDF_IGNORE_VISUAL_SHAPES, physicsClientId=cid)
        models[key] = _Model(cid, uid)
    return models[key]


class Kinematics:
    """FK of the tool centre point (TCP) and its 6 x dof Jacobian for a RobotSpec."""

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        self._model: _Model | None = _shared_model(spec)
        self._cid, self._uid = self._model.cid, self._model.uid
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
        self._pose: tuple[np.ndarray, np.ndarray] | None = None
        self._pose_version = -1
        link = pybullet.getLinkState(self._uid, self._ee, physicsClientId=self._cid)
        inv_pos, inv_orn = pybullet.invertTransform(link[2], link[3])
        # calculateJacobian wants the point in the link's inertial frame
        self._tcp_in_inertial = pybullet.multiplyTransforms(inv_pos, inv_orn, spec.tcp_offset, (0, 0, 0, 1))[0]

    def _set(self, q: np.ndarray) -> None:
        key = np.asarray(q, dtype=float).tobytes()
        model = self._model
        if key == model.q:
            return
        values = np.asarray(q, dtype=float).tolist()  # PyBullet parses Python floats fastest
        pybullet.resetJointStatesMultiDof(self._uid, self._arm, [[v] for v in values], physicsClientId=self._cid)
        model.q, model.q_list = key, values
        model.version += 1

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (m) and orientation (x, y, z, w) in the world for joints ``q``."""
        self._set(q)
        if self._pose is None or self._pose_version != self._model.version:
            link = pybullet.getLinkState(self._uid, self._ee, computeForwardKinematics=1,
                                         physicsClientId=self._cid)
            pos, orn = pybullet.multiplyTransforms(link[4], link[5], self.spec.tcp_offset, (0, 0, 0, 1))
            self._pose, self._pose_version = (np.array(pos), np.array(orn)), self._model.version
        return self._pose[0].copy(), self._pose[1].copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """6 x dof Jacobian (linear rows first) of the TCP for joints ``q``."""
        self._set(q)
        full = [0.0] * self._n_movable
        for col, value in zip(self._arm_columns, self._model.q_list, strict=True):
            full[col] = value
        zeros = [0.0] * self._n_movable
        lin, ang = pybullet.calculateJacobian(self._uid, self._ee, self._tcp_in_inertial, full, zeros,
                                              zeros, physicsClientId=self._cid)
        return np.array((*lin, *ang))[:, self._arm_columns]

    def close(self) -> None:
        """Let go of the shared model (it stays loaded for the next Kinematics of this robot)."""
        self._model = None
