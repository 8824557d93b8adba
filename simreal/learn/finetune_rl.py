"""RL fine-tuning of the control head on a target (the baseline relabeling has to beat).

``HeadRLEnv`` makes the head's job an RL problem on the target robot: the frozen high
level chooses each command, the RL agent chooses the head's action, and the reward is
the grasp task's. PPO (Stable-Baselines3) starts from the source head's weights: the
env hands out the head's normalised input, so SB3's actor layers take the head's
layers one for one. The fine-tuned actor is copied back into a ControlHead.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from torch import nn

from ..envs import GraspEnv
from ..envs.layout import OBS_BOUND
from ..policy.head import ControlHead, HeadInterface
from ..policy.hierarchical import HierarchicalPolicy
from ..robot import JointCommand, Robot, RobotState


class _Relay(HeadInterface):
    """A Controller whose head action is set from outside before each step."""

    action: np.ndarray

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        return self.command(state, self.action, gripper_width)


# PPO acts in [-1, 1]; the env maps an action a to the head's output tanh(ACTION_SCALE * a),
# so PPO's clipping never bites before the head's own tanh does (tanh(5) = 0.9999).
ACTION_SCALE = 5.0
LOG_STD_INIT = -2.0 - float(np.log(ACTION_SCALE))  # std 0.135 in the head's pre-activation units


class HeadRLEnv(gym.Env[np.ndarray, np.ndarray]):
    """Observation: the head's normalised input; action: the head's joint pre-activation
    divided by ACTION_SCALE (tanh is applied here, as in the head, so PPO's deterministic
    action is exactly the exported head's); reward, termination and ``is_success``: the
    grasp task's, with the frozen high level. ``robot`` is the target (any Robot); the env
    closes it when it is closed."""

    def __init__(self, policy: HierarchicalPolicy, robot: Robot) -> None:
        self.policy = policy
        self.head = policy.head
        spec = policy.spec
        self.relay = _Relay(spec, self.head.config)
        self.inner = GraspEnv(robot=robot, randomization=None, controller=lambda spec, period: self.relay)
        self.mean = self.head.input_mean.numpy().astype(np.float64)
        self.std = self.head.input_std.numpy().astype(np.float64)
        self.observation_space = gym.spaces.Box(-OBS_BOUND * 10, OBS_BOUND * 10, (self.head.layout.size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (spec.dof,), np.float32)

    def _head_obs(self, grasp_obs: np.ndarray) -> np.ndarray:
        self._command = self.policy.act(grasp_obs)
        state = self.inner._state
        width = (1.0 - float(np.clip(self._command[3], -1, 1))) / 2.0 * self.policy.spec.gripper.max_width
        displacement = np.clip(self._command[:3], -1, 1) * self.inner.max_displacement
        x = self.relay.observe(state, displacement, width)
        return ((x - self.mean) / self.std).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        grasp_obs, info = self.inner.reset(seed=seed, options=options)
        return self._head_obs(grasp_obs), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.relay.action = np.tanh(ACTION_SCALE * np.asarray(action, dtype=float))
        grasp_obs, reward, terminated, truncated, info = self.inner.step(self._command)
        return self._head_obs(grasp_obs), reward, terminated, truncated, info

    def close(self) -> None:
        self.inner.close()


def _actor_linears(model: PPO) -> list[nn.Linear]:
    policy = model.policy
    return [*(m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)), policy.action_net]


def rollout_steps(chunk: int) -> int:
    """PPO's rollout length for learning in chunks of ``chunk`` steps (64 to 1024)."""
    return max(64, min(1024, chunk))


class HeadPPO:
    """PPO on the head, started from the source head's weights; learn in chunks, export any time.

    Each ``learn(steps)`` starts from a fresh episode (the robot may have been used for
    something else in between) and collects whole rollouts of ``rollout_steps(chunk)``.
    """

    def __init__(self, policy: HierarchicalPolicy, robot: Robot, seed: int, chunk: int,
                 learning_rate: float = 1e-4) -> None:
        self.source = policy.head
        self.env = gym.wrappers.TimeLimit(HeadRLEnv(policy, robot), 50)
        hidden = [m.out_features for m in policy.head.net if isinstance(m, nn.Linear)][:-1]
        n_steps = rollout_steps(chunk)
        self.model = PPO("MlpPolicy", self.env, learning_rate=learning_rate, n_steps=n_steps,
                         batch_size=n_steps // 4, n_epochs=5, clip_range=0.1, seed=seed, device="cpu", verbose=0,
                         policy_kwargs={"net_arch": {"pi": hidden, "vf": hidden}, "log_std_init": LOG_STD_INIT})
        _copy_linears(_head_linears(self.source), _actor_linears(self.model), 1.0 / ACTION_SCALE)

    def learn(self, steps: int) -> int:
        """Learn for about ``steps`` more env steps; returns the steps it took on the robot."""
        before = self.model.num_timesteps
        self.model._last_obs = None  # SB3 resets the env at the start of learn() when this is None
        self.model.learn(steps, reset_num_timesteps=False)
        return self.model.num_timesteps - before

    def succeeded(self, state: RobotState) -> bool:
        """Whether ``state`` ends an episode of the grasp task in success."""
        return self.env.unwrapped.inner.lifted(state)

    def export(self) -> ControlHead:
        """The current actor as a ControlHead (the env applies the head's tanh, so they agree)."""
        head = copy.deepcopy(self.source)
        _copy_linears(_actor_linears(self.model), _head_linears(head), ACTION_SCALE)
        return head.eval()

    def close(self) -> None:
        self.env.close()


def _head_linears(head: ControlHead) -> list[nn.Linear]:
    return [m for m in head.net if isinstance(m, nn.Linear)]


def _copy_linears(source: list[nn.Linear], target: list[nn.Linear], output_scale: float) -> None:
    """Copy layer by layer; the output layer is multiplied by ``output_scale``."""
    with torch.no_grad():
        for i, (theirs, mine) in enumerate(zip(source, target, strict=True)):
            scale = output_scale if i == len(source) - 1 else 1.0
            mine.weight.copy_(theirs.weight * scale)
            mine.bias.copy_(theirs.bias * scale)
