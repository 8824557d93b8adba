"""Kinematics: forward kinematics and Jacobians of the nominal robot model.

Controllers compute from *measured* joints, as a real robot's controller does; this
model lives in its own PyBullet client so it works the same whether the robot is
simulated, perturbed or on the other end of a network bridge.

Loading a URDF costs far more than any query (its meshes are parsed) and every env and
controller holds a Kinematics, so the loaded model is shared: one client per URDF file,
base position and arm joints in each thread, kept while its thread lives. Every FK query
sets the joints it asks about first, so sharers never see each other's state.

Queries come in pairs within a control step (the controller and the observation ask for
the TCP of the same joints), so each Kinematics keeps the poses of the last few joint
vectors it computed: FK is a pure function of the joints, so a cached pose is the same
numbers a fresh query gives, without moving the model's joints again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

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

    def __del__(self) -> None:
        try:
            pybullet.disconnect(self.cid)
        except Exception:  # already gone, or pybullet torn down at interpreter exit
            pass


POSE_CACHE = 4
"""Joint vectors whose TCP pose a Kinematics remembers (the newest ones)."""

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
        arm_columns = [movable.index(j) for j in self._arm]
        # calculateJacobian takes every movable joint; the arm's come first in every URDF we
        # know, so the arm's values plus zeros (fingers) make the full vector without a scatter
        self._arm_first = arm_columns == list(range(len(arm_columns)))
        self._arm_columns = arm_columns
        self._n_movable = len(movable)
        self._zeros = [0.0] * self._n_movable
        self._padding = [0.0] * (self._n_movable - len(arm_columns))
        self._poses: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        link = pybullet.getLinkState(self._uid, self._ee, physicsClientId=self._cid)
        inv_pos, inv_orn = pybullet.invertTransform(link[2], link[3])
        # calculateJacobian wants the point in the link's inertial frame
        self._tcp_in_inertial = pybullet.multiplyTransforms(inv_pos, inv_orn, spec.tcp_offset, (0, 0, 0, 1))[0]

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (m) and orientation (x, y, z, w) in the world for joints ``q``."""
        pos, orn = self.tcp_pose_view(q)
        return pos.copy(), orn.copy()

    def tcp_pose_view(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`tcp_pose` without the copies: read-only arrays shared with the cache."""
        values = np.asarray(q, dtype=float)
        key = values.tobytes()
        pose = self._poses.get(key)
        if pose is None:
            pose = self._compute_pose(key, values)
        return pose

    def _compute_pose(self, key: bytes, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model, cid = self._model, self._cid
        if key != model.q:
            # PyBullet parses Python floats fastest
            pybullet.resetJointStatesMultiDof(self._uid, self._arm, [[v] for v in values.tolist()],
                                              physicsClientId=cid)
            model.q = key
        link = pybullet.getLinkState(self._uid, self._ee, computeForwardKinematics=1, physicsClientId=cid)
        pos, orn = pybullet.multiplyTransforms(link[4], link[5], self.spec.tcp_offset, (0, 0, 0, 1))
        pose = (np.array(pos), np.array(orn))
        for part in pose:
            part.flags.writeable = False  # shared by every caller that asks for these joints
        poses = self._poses
        if len(poses) >= POSE_CACHE:
            del poses[next(iter(poses))]
        poses[key] = pose
        return pose

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """6 x dof Jacobian (linear rows first) of the TCP for joints ``q``.

        PyBullet computes it from the joint values passed (not the model's joint state),
        so the model's joints are left as they are."""
        values = np.asarray(q, dtype=float).tolist()
        if self._arm_first:
            full = values + self._padding
        else:
            full = list(self._zeros)
            for col, value in zip(self._arm_columns, values, strict=True):
                full[col] = value
        zeros = self._zeros
        lin, ang = pybullet.calculateJacobian(self._uid, self._ee, self._tcp_in_inertial, full, zeros,
                                              zeros, physicsClientId=self._cid)
        jac = np.array((*lin, *ang))
        # column-major, as picking the arm's columns by index gives: the layout decides which
        # BLAS kernels the controller's products run, hence their last bits
        return np.asfortranarray(jac[:, :len(values)]) if self._arm_first else jac[:, self._arm_columns]

    def close(self) -> None:
        """Let go of the shared model (it stays loaded for the next Kinematics of this robot)."""
        self._model = None
