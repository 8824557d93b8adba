"""ControlEnv: the low-level tracking task the control head learns (``simreal/PandaControl-v0``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle

from ..controllers import orientation_error
from ..robot import JointCommand, Robot
from ..specs import SceneSpec
from .layout import OBS_BOUND, Layout
from .robot_env import RobotEnv


def control_layout(dof: int, history: int) -> Layout:
    """Observation layout of ControlEnv for an arm with ``dof`` joints."""
    return Layout((
        ("joint_positions", dof),
        ("joint_velocities", dof),
        ("gripper_width", 1),
        ("previous_actions", history * (dof + 1)),
        ("command", 4),
    ))


class ControlEnv(RobotEnv, EzPickle):
    """Track end-effector displacement commands with joint position targets.

    ## Action Space
    ``Box(-1, 1, (dof + 1,), float32)``: the first ``dof`` values times
    ``max_joint_step`` (default 0.15 rad) are joint position targets relative to the
    measured joint positions; the last sets the gripper opening (-1 open, +1 closed), as
    in GraspEnv.

    ## Observation Space
    ``Box(-10, 10, ...)`` in the order of :func:`control_layout`: measured
    ``joint_positions`` (rad) and ``joint_velocities`` (rad/s), ``gripper_width`` (m),
    the last ``history`` actions (so control latency is observable), and the
    ``command``: desired TCP displacement over the next period in GraspEnv action units
    (times ``max_displacement`` m) and the gripper command (-1 open, +1 closed).

    ## Rewards
    ``-(|achieved - commanded displacement| / max_displacement) - 0.5 * orientation
    error (rad)`` where the achieved displacement is the change of the TCP position
    (nominal kinematics of the measured joints) over the period.

    ## Episode End
    Never terminates; truncates after 50 steps (registration's ``max_episode_steps``).
    Commands are a random walk of directions that turn back toward the workspace centre
    near its edges; each step keeps the previous direction with probability 0.7.

    ## Arguments
    ``robot``, ``scene``, ``randomization``, ``target`` as in GraspEnv;
    ``max_displacement`` (m), ``max_joint_step`` (rad), ``history`` (actions kept);
    ``render_mode``, ``render_width``, ``render_height`` (pixels) as in GraspEnv.

    ## Version History
    * v0: initial version.
    """

    def __init__(self, robot: str | Robot = "panda", scene: str | SceneSpec = "tabletop",
                 randomization: str | None = "default", target: str | None = None,
                 max_displacement: float = 0.03, max_joint_step: float = 0.15, history: int = 4,
                 render_mode: str | None = None, render_width: int = 320, render_height: int = 240) -> None:
        EzPickle.__init__(self, robot, scene, randomization, target, max_displacement, max_joint_step, history,
                          render_mode, render_width, render_height)
        super().__init__(robot, scene, randomization, target, render_mode, render_width, render_height)
        dof = self.spec_robot.dof
        self.layout = control_layout(dof, history)
        self.max_displacement = max_displacement
        self.max_joint_step = max_joint_step
        self.history = history
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (self.layout.size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (dof + 1,), np.float32)
        self._center = (np.asarray(self.spec_robot.workspace_low) + np.asarray(self.spec_robot.workspace_high)) / 2

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._state = self._reset_robot(seed, options)
        self._actions = np.zeros((self.history, self.spec_robot.dof + 1))
        self._ee = self.kinematics.tcp_pose(self._state.joint_positions)[0]
        self._command = self._next_command(np.zeros(4))
        return self._observe(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
        dof = self.spec_robot.dof
        targets = np.clip(self._state.joint_positions + a[:dof] * self.max_joint_step,
                          self.spec_robot.lower, self.spec_robot.upper)
        width = (1.0 - a[dof]) / 2.0 * self.spec_robot.gripper.max_width
        self.robot.apply(JointCommand(targets, float(width)))
        self._state = self.robot.step()
        ee, orn = self.kinematics.tcp_pose(self._state.joint_positions)
        achieved = ee - self._ee
        wanted = self._command[:3] * self.max_displacement
        tilt = float(np.linalg.norm(orientation_error(orn, np.asarray(self.spec_robot.grasp_orientation))))
        reward = -float(np.linalg.norm(achieved - wanted)) / self.max_displacement - 0.5 * tilt
        self._ee = ee
        self._actions = np.roll(self._actions, 1, axis=0)
        self._actions[0] = a
        self._command = self._next_command(self._command)
        info = {"achieved_displacement": achieved, "tracking_error": float(np.linalg.norm(achieved - wanted))}
        return self._observe(), reward, False, False, info

    def _next_command(self, previous: np.ndarray) -> np.ndarray:
        rng = self.np_random
        command = previous.copy()
        if not previous[:3].any() or rng.random() > 0.7:
            command[:3] = rng.uniform(-1.0, 1.0, 3)
        if not previous[3] or rng.random() > 0.9:
            command[3] = rng.choice((-1.0, 1.0))
        # steer back toward the centre near the workspace edges
        span = (np.asarray(self.spec_robot.workspace_high) - np.asarray(self.spec_robot.workspace_low)) / 2
        outward = (self._ee - self._center) / span
        command[:3] = np.where(np.abs(outward) > 0.8, -np.sign(outward) * np.abs(command[:3]), command[:3])
        return command

    def _observe(self) -> np.ndarray:
        s = self._state
        return np.concatenate((s.joint_positions, s.joint_velocities, (s.gripper_width,),
                               self._actions.ravel(), self._command)).astype(np.float32)
