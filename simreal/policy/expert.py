"""ScriptedGraspExpert: a hand-written grasp-and-lift policy over GraspEnv observations.

It is the oracle that source training warms up from, and the proof that the grasp
task is solvable. It reads only the observation (which, in simulation, comes from the
simulator's object poses: privileged perception), and is stateless, so it can label
any state a learner visits (DAgger).
"""

from __future__ import annotations

import numpy as np

from ..envs.grasp import grasp_layout
from ..envs.layout import Layout


class ScriptedGraspExpert:
    """Hover above the object, descend, close, lift; re-open and retry after a miss.

    ``max_displacement`` must match the env's (m per action unit). Distances in m.

    ``predictive``: steer from where the commands already sent will put the hand (the
    observation's ``ee_reference_offset``) rather than from where it is, and close the
    gripper only once the measured hand has arrived. With command latency the plain
    expert reacts to a hand that is still catching up with its own past commands, and
    overshoots; the predictive one is a function of the observation alone, so it can
    label any state a learner visits. Use it with a controller that keeps a reference
    (``ReferenceIKController`` or a reference-anchored control head).
    """

    def __init__(self, max_displacement: float = 0.03, hover: float = 0.07,
                 align_tolerance: float = 0.012, gain: float = 0.8,
                 layout: Layout | None = None, predictive: bool = False) -> None:
        self.layout = layout or grasp_layout()
        self.max_displacement = max_displacement
        self.hover = hover
        self.align_tolerance = align_tolerance
        self.gain = gain
        self.predictive = predictive
        self._rel = self.layout.slice("object_relative_position")
        self._width = self.layout.slice("gripper_width")
        self._half = self.layout.slice("object_half_extents")
        self._reference = self.layout.slice("ee_reference_offset") if predictive else None

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """Action in [-1, 1]^4 for one observation."""
        if self.predictive:
            return self._predictive(observation)
        rel = np.asarray(observation[self._rel], dtype=float)
        width = float(observation[self._width][0])
        half = np.asarray(observation[self._half], dtype=float)
        horizontal = float(np.hypot(rel[0], rel[1]))
        near = horizontal < 1.5 * self.align_tolerance and abs(rel[2]) < half[2]
        closed_on_it = width < 2.0 * float(np.min(half[:2])) + 0.015
        if near and closed_on_it:
            return self._action(np.array([rel[0], rel[1], self.max_displacement]), close=True)
        if horizontal > self.align_tolerance:
            # stay at hover height until above the object so the fingers clear it
            height = rel[2] + self.hover
            return self._action(np.array([rel[0], rel[1], height]), close=False)
        if rel[2] < -0.006:
            return self._action(rel, close=False)
        return self._action(rel, close=True)

    def _predictive(self, observation: np.ndarray) -> np.ndarray:
        rel = np.asarray(observation[self._rel], dtype=float)
        ahead = rel - np.asarray(observation[self._reference], dtype=float)  # object minus the commanded TCP
        width = float(observation[self._width][0])
        half = np.asarray(observation[self._half], dtype=float)
        horizontal = float(np.hypot(rel[0], rel[1]))
        near = horizontal < 1.5 * self.align_tolerance and abs(rel[2]) < half[2]
        closed_on_it = width < 2.0 * float(np.min(half[:2])) + 0.015
        held = closed_on_it and horizontal < 1.5 * float(np.max(half[:2])) and abs(rel[2]) < half[2]
        if held:  # straight up: re-centring over an object that moves with the hand only pushes it along
            return self._action(np.array([0.0, 0.0, self.max_displacement]), close=True)
        # the hand itself far off (blocked, or knocked aside) also sends it back up to hover height
        if float(np.hypot(ahead[0], ahead[1])) > self.align_tolerance or horizontal > 3.0 * self.align_tolerance:
            return self._action(np.array([ahead[0], ahead[1], ahead[2] + self.hover]), close=False)
        if ahead[2] < -0.006:
            return self._action(ahead, close=False)
        return self._action(ahead, close=near)  # commanded onto the object: close once the hand is there

    def _action(self, delta: np.ndarray, close: bool) -> np.ndarray:
        move = np.clip(self.gain * delta / self.max_displacement, -1.0, 1.0)
        return np.append(move, 1.0 if close else -1.0).astype(np.float32)

    def predict(self, observation: np.ndarray, state: object = None, episode_start: object = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """Stable-Baselines3-style entry point (batched or single observations)."""
        obs = np.asarray(observation)
        if obs.ndim == 1:
            return self(obs), None
        return np.stack([self(o) for o in obs]), None
