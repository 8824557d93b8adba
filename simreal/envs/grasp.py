"""GraspEnv: the high-level grasp-and-lift task (``simreal/PandaGrasp-v0`` and variants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle

from ..controllers import CommandReference, Controller, DifferentialIKController
from ..robot import ObjectPose, Robot, RobotState
from ..sim import Randomizer
from ..specs import RobotSpec, SceneSpec
from .layout import OBS_BOUND, Layout
from .robot_env import RobotEnv

ControllerFactory = Callable[[RobotSpec, float], Controller]


ACTION_HISTORY = 4
"""High-level actions kept in the observation (most recent first): with the reference
offset, what lets a policy see commands that have not taken effect yet."""


def task_layout() -> Layout:
    """The task's state alone: the first blocks of :func:`grasp_layout` (what a policy that
    does not look at its commands in flight reads, such as the first shipped one)."""
    return Layout((
        ("ee_position", 3),
        ("ee_velocity", 3),
        ("gripper_width", 1),
        ("object_relative_position", 3),
        ("object_half_extents", 3),
        ("object_lift", 1),
    ))


def grasp_layout() -> Layout:
    """Observation layout of GraspEnv (metres, world frame, unless noted)."""
    return Layout((*task_layout().blocks, ("ee_reference_offset", 3), ("previous_actions", ACTION_HISTORY * 4)))


GRASP_ACTION_LAYOUT = Layout((("ee_displacement", 3), ("gripper", 1)))


class MissingPerception(ValueError):
    """The robot's state has no pose for the object the task is about: success is judged from it."""


class GraspEnv(RobotEnv, EzPickle):
    """Pick up the target object and lift it.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: ``[dx, dy, dz, g]``. ``dx, dy, dz`` times
    ``max_displacement`` (default 0.03 m) is the desired tool-centre-point displacement
    in the world frame over the next control period (50 ms by default). ``g`` sets the
    gripper opening: -1 fully open (the spec's ``max_width``), +1 fully closed, linear
    between. The orientation is held top-down by the low-level controller.

    ## Observation Space
    ``Box(-10, 10, (33,), float32)`` in the order of :func:`grasp_layout`:
    ``ee_position`` (3, m), ``ee_velocity`` (3, m/s, finite difference),
    ``gripper_width`` (1, m), ``object_relative_position`` (3, m, object centre minus
    TCP), ``object_half_extents`` (3, m), ``object_lift`` (1, m, height of the object
    centre above its resting height), ``ee_reference_offset`` (3, m: where the joint
    targets sent so far put the TCP, minus where it is; the controller's joint reference
    when it keeps one, see ``CommandReference``, else the last targets sent) and
    ``previous_actions`` (the last 4 actions, most recent first, zeros after a reset).
    End-effector values come from the measured joints through the nominal kinematics,
    so encoder bias and noise show up here as on a real robot. The last two blocks make
    command latency observable: the reference offset is the motion still on its way.

    ## Rewards
    ``reward_type="dense"`` (default): ``-distance(TCP, object) + 5 * min(lift /
    lift_height, 1)`` per step, plus 10 on success. ``"sparse"``: 1 on success, else 0.

    ## Episode End
    Terminates on success (``object_lift >= lift_height``, default 0.08 m;
    ``info["is_success"]`` is True) or when the object falls off the table. Truncates
    after 50 steps (registration's ``max_episode_steps``).

    ## Arguments
    ``robot`` (name or a Robot), ``scene``, ``randomization`` (name of a
    ``calibration/randomization`` file, or any ``Randomizer`` such as
    ``families.FamilyRandomizer``, sampled per episode from the env's seed; None
    for nominal dynamics), ``target`` (a target profile: run on a PerturbedTarget),
    ``controller`` (factory ``(RobotSpec, control_period) -> Controller``; default the
    differential-IK controller), ``max_displacement``, ``lift_height``, ``reward_type``.
    ``render_mode="rgb_array"`` makes ``render()`` return the scene as the robot reports it
    (measured joints, perceived objects), ``render_height x render_width x 3`` uint8 pixels.
    ``reset(options={"dynamics": DynamicsParams(...)})`` forces the dynamics of one
    episode of a simulated robot.

    ## Version History
    * v0: initial version; the reference offset and previous actions were appended later
      (policies select their blocks by name, so a policy trained on the first 14 values
      still runs); ``render_mode="rgb_array"`` added without changing the dynamics.
    """

    def __init__(self, robot: str | Robot = "panda", scene: str | SceneSpec = "tabletop",
                 randomization: str | Randomizer | None = "default", target: str | None = None,
                 controller: ControllerFactory | None = None, max_displacement: float = 0.03,
                 lift_height: float = 0.08, reward_type: str = "dense",
                 render_mode: str | None = None, render_width: int = 320, render_height: int = 240) -> None:
        EzPickle.__init__(self, robot, scene, randomization, target, controller, max_displacement,
                          lift_height, reward_type, render_mode, render_width, render_height)
        if reward_type not in ("dense", "sparse"):
            raise ValueError(f"reward_type must be 'dense' or 'sparse', got {reward_type!r}")
        super().__init__(robot, scene, randomization, target, render_mode, render_width, render_height)
        self.layout = grasp_layout()
        self.max_displacement = max_displacement
        self.lift_height = lift_height
        self.reward_type = reward_type
        self.target_object = self.scene.objects[0].name
        spec, period = self.spec_robot, self.robot.control_period
        self.controller = (controller(spec, period) if controller is not None
                           else DifferentialIKController(spec, period, kinematics=self.kinematics))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (self.layout.size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._ee = np.zeros(3)
        self._sent = np.zeros(self.spec_robot.dof)
        self._actions = np.zeros((ACTION_HISTORY, 4))
        self._keeps_reference = isinstance(self.controller, CommandReference)  # checked once: it is not cheap
        self._relative = self.layout.slice("object_relative_position")
        self._blocks = tuple(self.layout.slice(name) for name in self.layout.names)
        self._obs = np.zeros(self.layout.size)  # assembled in place, handed out as a float32 copy

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._state = self._reset_robot(seed, options)
        self.controller.reset(self._state)
        self._ee = self.kinematics.tcp_pose_view(self._state.joint_positions)[0]
        self._sent = np.asarray(self._state.joint_positions, dtype=float).copy()
        self._actions[:] = 0.0
        obs, _ = self._observe(self._ee)
        return obs, {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        a = np.minimum(np.maximum(np.asarray(action, dtype=float), -1.0), 1.0)  # np.clip, without its overhead
        width = (1.0 - float(a[3])) / 2.0 * self.spec_robot.gripper.max_width
        command = self.controller(self._state, a[:3] * self.max_displacement, width)
        self.robot.apply(command)
        self._sent = np.asarray(command.positions, dtype=float)
        self._actions[1:] = self._actions[:-1]
        self._actions[0] = a
        self._state = self.robot.step()
        previous = self._ee
        self._ee = self.kinematics.tcp_pose_view(self._state.joint_positions)[0]
        obs, lift = self._observe(previous)
        success = bool(lift >= self.lift_height)
        dropped = bool(lift < -0.05)
        reward = self._reward(obs, lift, success)
        return obs, reward, success or dropped, False, {"is_success": success}

    def _observe(self, previous_ee: np.ndarray) -> tuple[np.ndarray, float]:
        state, ee = self._state, self._ee
        target = state.objects.get(self.target_object)
        if target is None:
            raise MissingPerception(
                f"the robot reports no pose for object {self.target_object!r} (its state has "
                f"{sorted(state.objects) or 'no objects'}): the grasp task observes the object and judges success "
                "from its height, so the robot side must report it in each state (a perception system, "
                "motion capture or fiducials)")
        lift = self._lift(target)
        reference = self.controller.reference if self._keeps_reference else None
        commanded = self.kinematics.tcp_pose_view(self._sent if reference is None else reference)[0]
        obs = self._obs
        ee_at, velocity_at, width_at, relative_at, extents_at, lift_at, offset_at, actions_at = self._blocks
        obs[ee_at] = ee
        obs[velocity_at] = (ee - previous_ee) / self.robot.control_period
        obs[width_at] = state.gripper_width
        obs[relative_at] = target.position - ee
        obs[extents_at] = target.half_extents
        obs[lift_at] = lift
        obs[offset_at] = commanded - ee
        obs[actions_at] = self._actions.ravel()
        return obs.astype(np.float32), lift

    def lifted(self, state: RobotState) -> bool:
        """Whether ``state`` shows the task done: the target object ``lift_height`` above its rest."""
        target = state.objects.get(self.target_object)
        return target is not None and self._lift(target) >= self.lift_height

    def _lift(self, target: ObjectPose) -> float:
        return float(target.position[2] - (self.scene.table_height + target.half_extents[2]))

    def _reward(self, obs: np.ndarray, lift: float, success: bool) -> float:
        if self.reward_type == "sparse":
            return float(success)
        relative = obs[self._relative]
        distance = float(np.sqrt(relative.dot(relative)))  # np.linalg.norm's own formula, without its checks
        return -distance + 5.0 * min(max(lift, 0.0) / self.lift_height, 1.0) + 10.0 * success
