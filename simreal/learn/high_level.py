"""Training the high-level grasp policy with Stable-Baselines3: DAgger warm start, then PPO.

The learned control head sits inside the env, frozen. DAgger (Ross et al. 2011) rolls
out a mix of expert and learner, labels every visited state with the scripted expert
(the predictive one over a reference-anchored head: it steers from where the commands
already sent put the hand, so its labels stay right under command delay, and it reads
only the observation, so the learner can match it) and fits the PPO actor's mean by
regression; PPO then fine-tunes under domain
randomization with the actor frozen for a first critic warm-up chunk. A fine-tune that
lowers validation success is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import SubprocVecEnv

from ..envs import Layout, grasp_layout, time_limited_grasp_env
from ..envs.layout import OBS_BOUND
from ..evaluation import EvaluationResult, evaluate
from ..policy import ScriptedGraspExpert
from ..policy.head import ControlHead, head_controller
from ..policy.high_level import HighLevelConfig, HighLevelPolicy
from ..sim.randomizer import Randomizer


@dataclass(frozen=True)
class HighLevelTrainConfig:
    """DAgger schedule (episodes, expert mixing beta per iteration) and PPO fine-tuning."""

    dagger_schedule: tuple[tuple[int, float], ...] = ((200, 1.0), (100, 0.5), (100, 0.0), (100, 0.0), (100, 0.0))
    bc_epochs: int = 15
    bc_learning_rate: float = 1e-3
    hidden: tuple[int, ...] = (256, 256)
    rl_steps: int = 20_000
    rl_chunk: int = 5_000
    rl_learning_rate: float = 5e-5
    log_std_init: float = -2.0
    validation_episodes: int = 50
    validation_seed: int = 500_000
    rl_rollout: int = 1024  # PPO steps per rollout, split between the ``n_envs`` envs
    n_envs: int = 1  # PPO's envs; more than one run in worker processes (SB3 SubprocVecEnv)


def make_grasp_env(head: ControlHead, robot: str, randomization: str | Randomizer | None,
                   layout: Layout | None = None) -> gym.Env:
    """The grasp task with ``head`` as its low level; observations cut to ``layout``'s blocks if given."""
    env = time_limited_grasp_env(robot=robot, randomization=randomization, controller=head_controller(head))
    if layout is None or layout == grasp_layout():
        return env
    index = grasp_layout().selection(layout)
    space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (layout.size,), np.float32)
    return gym.wrappers.TransformObservation(env, lambda obs: obs[index], space)


def _rl_env(head: ControlHead, robot: str, randomization: str | None, layout: Layout) -> gym.Env:
    import torch

    torch.set_num_threads(1)  # in a worker process: one thread each, as in the main one
    return Monitor(make_grasp_env(head, robot, randomization, layout))


def rl_envs(head: ControlHead, robot: str, randomization: str | None, layout: Layout, n: int) -> SubprocVecEnv:
    """``n`` grasp envs in worker processes for PPO; seeded by the model (seed + i for env i)."""
    return SubprocVecEnv([partial(_rl_env, head, robot, randomization, layout)] * n, start_method="spawn")


class HighLevelTrainer:
    """Holds the SB3 model and the DAgger dataset; each call advances one interval."""

    def __init__(self, head: ControlHead, robot: str, randomization: str | None, seed: int,
                 config: HighLevelTrainConfig, tensorboard_log: str | None = None,
                 expert: ScriptedGraspExpert | None = None, layout: Layout | None = None) -> None:
        self.config = config
        self.seed = seed
        self.layout = layout or grasp_layout()
        self.env = make_grasp_env(head, robot, randomization, self.layout)
        self.eval_env = make_grasp_env(head, robot, randomization, self.layout)
        self.rl_env = self.env if config.n_envs == 1 or not config.rl_steps else rl_envs(
            head, robot, randomization, self.layout, config.n_envs)
        policy_kwargs = {"net_arch": {"pi": list(config.hidden), "vf": list(config.hidden)},
                         "log_std_init": config.log_std_init}
        self.model = PPO("MlpPolicy", self.rl_env, learning_rate=config.rl_learning_rate,
                         n_steps=config.rl_rollout // (1 if self.rl_env is self.env else config.n_envs),
                         batch_size=256, n_epochs=5,
                         clip_range=0.1, ent_coef=0.0, seed=seed, policy_kwargs=policy_kwargs,
                         tensorboard_log=tensorboard_log, device="cpu", verbose=0)
        self.expert = expert or ScriptedGraspExpert(layout=self.layout)
        self.observations = np.zeros((0, self.env.observation_space.shape[0]), np.float32)
        self.actions = np.zeros((0, 4), np.float32)
        self.env_steps = 0

    # --- acting and evaluation ----------------------------------------------------

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(obs, deterministic=True)[0]

    def validate(self) -> EvaluationResult:
        cfg = self.config
        return evaluate(self.eval_env, self.act, cfg.validation_episodes, cfg.validation_seed)

    def export(self) -> HighLevelPolicy:
        config = HighLevelConfig(self.env.observation_space.shape[0], 4, self.config.hidden)
        return HighLevelPolicy.from_sb3(self.model.policy, config).eval()

    # --- DAgger -----------------------------------------------------------------------

    def dagger_iteration(self, index: int) -> float:
        """Roll out, label with the expert, refit the actor; returns the final BC loss."""
        episodes, beta = self.config.dagger_schedule[index]
        rng = np.random.default_rng((self.seed, index))  # per interval, so a resumed run matches
        obs_list, act_list = [], []
        for episode in range(episodes):
            obs, _ = self.env.reset(seed=self.seed * 1_000_003 + index * 10_000 + episode)
            done = False
            while not done:
                label = self.expert(obs)
                obs_list.append(obs)
                act_list.append(label)
                action = label if rng.random() < beta else self.act(obs)
                obs, _, terminated, truncated, _ = self.env.step(action)
                self.env_steps += 1
                done = terminated or truncated
        self.observations = np.concatenate((self.observations, np.array(obs_list, np.float32)))
        self.actions = np.concatenate((self.actions, np.array(act_list, np.float32)))
        return self._fit_actor()

    def _fit_actor(self) -> float:
        policy = self.model.policy
        generator = torch.Generator().manual_seed(self.seed + len(self.observations))
        x, y = torch.from_numpy(self.observations), torch.from_numpy(self.actions)
        optimizer = torch.optim.Adam(policy.parameters(), lr=self.config.bc_learning_rate)
        loss = torch.zeros(())
        for _ in range(self.config.bc_epochs):
            for idx in torch.randperm(len(x), generator=generator).split(256):
                mean = policy.get_distribution(x[idx]).distribution.mean
                loss = torch.nn.functional.mse_loss(mean, y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return float(loss.item())

    # --- PPO fine-tuning ----------------------------------------------------------------

    def rl_chunk(self, index: int, logger: Logger | None = None) -> None:
        """One chunk of PPO; the first chunk trains the critic only (actor frozen)."""
        actor = [*self.model.policy.mlp_extractor.policy_net.parameters(),
                 *self.model.policy.action_net.parameters(), self.model.policy.log_std]
        for p in actor:
            p.requires_grad_(index > 0)
        if logger is not None:
            self.model.set_logger(logger)
        self.model.learn(self.config.rl_chunk, reset_num_timesteps=False, progress_bar=False)
        for p in actor:
            p.requires_grad_(True)
        self.env_steps += self.config.rl_chunk

    def state(self) -> dict[str, torch.Tensor]:
        """SB3 policy weights (for resuming; saved with safetensors, never pickled)."""
        return {k: v.detach().clone() for k, v in self.model.policy.state_dict().items()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.policy.load_state_dict(state)

    def close(self) -> None:
        if self.rl_env is not self.env:
            self.rl_env.close()
        self.env.close()
        self.eval_env.close()

