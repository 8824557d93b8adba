"""Exploratory data collection on any Robot: the expert (or a policy) plus noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..controllers import Controller, DifferentialIKController
from ..envs import GraspEnv
from ..policy import ScriptedGraspExpert
from ..recording import RecordingRobot, Trajectory
from ..robot import JointCommand, Robot, RobotState
from ..specs import RobotSpec


class NoisyController:
    """Explores around another controller: its joint-target offsets from the measured
    joints are scaled by ``gain`` and Gaussian noise (std ``sigma`` rad) is added.

    The gain matters on robots whose motors are weaker or stronger than the source's:
    hindsight relabeling can only learn offsets that were actually tried. ``max_offset``
    (rad) keeps every offset within what a control head can output: a larger one would
    be relabeled as the head's clipped action paired with motion it cannot produce.
    """

    def __init__(self, base: Controller, spec: RobotSpec, rng: np.random.Generator, sigma: float = 0.0,
                 gain: float = 1.0, max_offset: float | None = None) -> None:
        self.base = base
        self.spec = spec
        self.rng = rng
        self.sigma = sigma
        self.gain = gain
        self.max_offset = max_offset

    def reset(self, state: RobotState) -> None:
        self.base.reset(state)

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        command = self.base(state, displacement, gripper_width)
        if not self.sigma and self.gain == 1.0:
            return command
        q = state.joint_positions
        offset = self.gain * (command.positions - q) + self.rng.normal(0.0, self.sigma, self.spec.dof)
        if self.max_offset is not None:
            offset = np.clip(offset, -self.max_offset, self.max_offset)
        noisy = q + offset
        return JointCommand(np.clip(noisy, self.spec.lower, self.spec.upper), command.gripper)


@dataclass(frozen=True)
class ExplorationConfig:
    """Per episode the joint noise std is drawn from ``joint_noise`` (rad) and the offset
    gain from ``gain`` (see NoisyController); each step
    the high-level action is replaced with ``random_action_prob`` by a uniform random one
    scaled by one of ``random_action_scales`` (small moves matter for precise grasps)."""

    joint_noise: tuple[float, float] = (0.0, 0.01)
    gain: tuple[float, float] = (1.0, 1.0)
    random_action_prob: float = 0.2
    random_action_scales: tuple[float, ...] = (0.05, 0.2, 1.0)
    episode_steps: int = 50
    max_offset: float | None = None


ControllerFactory = Callable[[RobotSpec, float], Controller]


def collect_grasp_trajectories(robot: Robot, episodes: int, seed: int,
                               randomization: str | None = None,
                               controller: ControllerFactory | None = None,
                               policy: Callable[[np.ndarray], np.ndarray] | None = None,
                               config: ExplorationConfig | None = None) -> list[Trajectory]:
    """Run grasp episodes on ``robot`` with exploration and return what was recorded.

    ``policy`` defaults to the scripted expert, ``controller`` to differential IK.
    """
    config = config or ExplorationConfig()
    rng = np.random.default_rng(seed)
    recorder = RecordingRobot(robot)
    noisy: list[NoisyController] = []

    def make_controller(spec: RobotSpec, period: float) -> Controller:
        base = controller(spec, period) if controller else DifferentialIKController(spec, period)
        noisy.append(NoisyController(base, spec, rng, max_offset=config.max_offset))
        return noisy[-1]

    env = GraspEnv(robot=recorder, randomization=randomization, controller=make_controller)
    act = policy or ScriptedGraspExpert(env.max_displacement)
    for episode in range(episodes):
        run_episode(env, noisy[0], act, rng, config, seed + episode)
    env.kinematics.close()
    return recorder.take()


def run_episode(env: GraspEnv, noisy: NoisyController, policy: Callable[[np.ndarray], np.ndarray],
                rng: np.random.Generator | None, config: ExplorationConfig | None, seed: int,
                max_steps: int | None = None) -> tuple[bool, int]:
    """One grasp episode on ``env`` (whose controller is ``noisy``); returns (success, steps).

    With ``config`` the episode explores: the noise std and gain are drawn from it and the
    high-level action is sometimes replaced by a random one. Without it the episode runs
    the policy exactly (``noisy`` passes commands through), as a validation episode must.
    ``max_steps`` (default the config's episode length, else 50) cuts the episode short.
    """
    steps = max_steps or (config.episode_steps if config else ExplorationConfig.episode_steps)
    obs, _ = env.reset(seed=seed)
    if config is None or rng is None:
        noisy.sigma, noisy.gain = 0.0, 1.0
    else:
        noisy.sigma = float(rng.uniform(*config.joint_noise))
        noisy.gain = float(rng.uniform(*config.gain))
    for step in range(1, steps + 1):
        action = policy(obs)
        if config is not None and rng is not None and rng.random() < config.random_action_prob:
            action = rng.uniform(-1.0, 1.0, 4) * rng.choice(config.random_action_scales)
        obs, _, terminated, _, info = env.step(action)
        if terminated:
            return bool(info["is_success"]), step
    return False, steps


def collect_transitions(robot: Robot, budget: int, seed: int, policy: Callable[[np.ndarray], np.ndarray],
                        controller: ControllerFactory, config: ExplorationConfig) -> list[Trajectory]:
    """Whole episodes on ``robot`` until ``budget`` control steps, the last one cut to fit."""
    trajectories: list[Trajectory] = []
    used, episode = 0, 0
    while used < budget:
        new = collect_grasp_trajectories(robot, 1, seed + episode, controller=controller, policy=policy,
                                         config=config)
        episode += 1
        for trajectory in new:
            keep = min(len(trajectory), budget - used)
            trajectories.append(Trajectory(trajectory.states[:keep + 1], trajectory.commands[:keep]))
            used += keep
    return trajectories
