"""RL fine-tuning of the whole policy on a target: the end-to-end baseline.

Where ``finetune-rl`` trains the head under a frozen high level, this baseline unfreezes
both. The SB3 PPO actor *is* the hierarchical policy: grasp observation -> high level ->
command, command + proprioception -> head -> joint action, with the gripper command
taken from the high level. Both start from the source weights, so PPO starts exactly
where zero-shot is and every layer is free to move. It answers "why not just fine-tune
the whole thing with RL on the robot?" with numbers; it is not an adaptation method
(the high level changes), so it lives in the benchmark, not in ``simreal adapt``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from ..envs import GraspEnv
from ..envs.layout import OBS_BOUND
from ..evaluation import EvaluationResult, evaluate
from ..policy.hierarchical import HierarchicalPolicy
from ..robot import Robot
from .finetune_rl import ACTION_SCALE, LOG_STD_INIT, _Relay

COMMAND_SIZE = 4  # TCP displacement (3) + gripper, the head's last inputs


class WholeRLEnv(gym.Env[np.ndarray, np.ndarray]):
    """Observation: grasp observation ++ the head's proprioceptive input (joints, velocities,
    width, action history); action: the head's joint pre-activation over ACTION_SCALE (tanh
    is applied here, as in the head) and the gripper command; reward, termination and
    ``is_success``: the grasp task's."""

    def __init__(self, policy: HierarchicalPolicy, robot: Robot) -> None:
        spec = policy.spec
        self.dof = spec.dof
        self.relay = _Relay(spec, policy.head.config)
        self.inner = GraspEnv(robot=robot, randomization=None, controller=lambda spec, period: self.relay)
        self.grasp_size = self.inner.observation_space.shape[0]
        size = self.grasp_size + policy.head.layout.size - COMMAND_SIZE
        self.observation_space = gym.spaces.Box(-OBS_BOUND * 10, OBS_BOUND * 10, (size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (spec.dof + 1,), np.float32)

    def _obs(self, grasp_obs: np.ndarray) -> np.ndarray:
        proprio = self.relay.observe(self.inner._state, np.zeros(3), 0.0)[:-COMMAND_SIZE]
        return np.concatenate((grasp_obs, proprio)).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        grasp_obs, info = self.inner.reset(seed=seed, options=options)
        return self._obs(grasp_obs), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=float)
        self.relay.action = np.tanh(ACTION_SCALE * action[:self.dof])
        # the relay ignores the displacement: the head's action comes from the PPO actor
        high_level_action = np.array([0.0, 0.0, 0.0, np.clip(action[self.dof], -1.0, 1.0)])
        grasp_obs, reward, terminated, truncated, info = self.inner.step(high_level_action)
        return self._obs(grasp_obs), reward, terminated, truncated, info

    def close(self) -> None:
        self.inner.close()


class _HierarchicalExtractor(nn.Module):
    """SB3 ``mlp_extractor``: the actor latent is the head's last hidden layer (computed
    from the high level's command) plus the high level's gripper command; the critic is
    a fresh MLP."""

    def __init__(self, source: HierarchicalPolicy, grasp_size: int, features: int) -> None:
        super().__init__()
        self.high_level = copy.deepcopy(source.high_level.net)
        self.head_hidden = copy.deepcopy(source.head.net[:-1])
        self.register_buffer("mean", source.head.input_mean.clone())
        self.register_buffer("std", source.head.input_std.clone())
        self.grasp_size = grasp_size
        hidden = source.head.net[-1].in_features
        self.latent_dim_pi = hidden + 1
        self.latent_dim_vf = 256
        self.critic = nn.Sequential(nn.Linear(features, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh())

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        command = self.high_level(features[:, :self.grasp_size]).clamp(-1.0, 1.0)
        head_input = torch.cat((features[:, self.grasp_size:], command), dim=1)
        hidden = self.head_hidden((head_input - self.mean) / self.std)
        return torch.cat((hidden, command[:, 3:]), dim=1)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.critic(features)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


class HierarchicalActorCritic(ActorCriticPolicy):
    """ActorCriticPolicy whose actor is a (copy of a) HierarchicalPolicy."""

    def __init__(self, *args: Any, source: HierarchicalPolicy, grasp_size: int, **kwargs: Any) -> None:
        self._build_args = (source, grasp_size)  # a tuple: nn.Module refuses submodules before __init__
        super().__init__(*args, ortho_init=False, **kwargs)
        last = source.head.net[-1]
        dof = last.out_features
        with torch.no_grad():  # head output for the joints, the high level's gripper passed through
            self.action_net.weight.zero_()
            self.action_net.bias.zero_()
            self.action_net.weight[:dof, :-1] = last.weight / ACTION_SCALE
            self.action_net.bias[:dof] = last.bias / ACTION_SCALE
            self.action_net.weight[dof, -1] = 1.0

    def _build_mlp_extractor(self) -> None:
        source, grasp_size = self._build_args
        self.mlp_extractor = _HierarchicalExtractor(source, grasp_size, self.features_dim)


class WholePolicyPPO:
    """PPO on the whole hierarchical policy, started from the source; learn in chunks.

    ``robot`` makes a target Robot (called once for training, once per evaluation)."""

    def __init__(self, policy: HierarchicalPolicy, robot: Callable[[], Robot], seed: int, chunk: int,
                 learning_rate: float = 1e-4) -> None:
        self.policy, self.robot = policy, robot
        env = WholeRLEnv(policy, robot())
        self.env = gym.wrappers.TimeLimit(env, 50)
        n_steps = max(64, min(1024, chunk))
        self.model = PPO(HierarchicalActorCritic, self.env, learning_rate=learning_rate, n_steps=n_steps,
                         batch_size=n_steps // 4, n_epochs=5, clip_range=0.1, seed=seed, device="cpu", verbose=0,
                         policy_kwargs={"source": policy, "grasp_size": env.grasp_size,
                                        "log_std_init": LOG_STD_INIT})

    def learn(self, steps: int) -> None:
        self.model.learn(steps, reset_num_timesteps=False)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(obs, deterministic=True)[0]

    def evaluate(self, episodes: int, seed: int) -> EvaluationResult:
        env = gym.wrappers.TimeLimit(WholeRLEnv(self.policy, self.robot()), 50)
        try:
            return evaluate(env, self.act, episodes, seed)
        finally:
            env.close()

    def close(self) -> None:
        self.env.close()
