"""Training RMA-style online adaptation in simulation (see ``policy.latent``).

Phase 1: expert grasps through the reference controller under broad randomization (a
target family), relabeled like the source head's data; a latent-conditioned head and the
encoder of the episode's privileged dynamics are fitted together, end to end, so ``z``
keeps what predicts the head's action. Phase 2: the source high level with that head in
the loop, in simulation, first fed the true ``z``, then the module's own estimates (so it
learns on the states its estimates lead to, as in RMA); the adaptation module is fitted by
regression of ``z`` on the recent history. No phase needs anything a target provides.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .. import assets
from ..envs import GraspEnv
from ..families import FamilyRandomizer
from ..policy import ScriptedGraspExpert
from ..policy.head import ControlHead, HeadConfig, head_controller
from ..policy.latent import (AdaptationModule, LatentConfig, LatentEncoder, OnlineEstimator, OnlineModule,
                             privileged_vector, step_features, windows)
from ..recording import RecordingRobot, Trajectory
from ..sim import SimRobot
from .exploration import ExplorationConfig, collect_grasp_trajectories
from .relabel import RelabeledData, delay_horizon, relabel
from .source_head import reference_controller

Act = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class OnlineTrainConfig:
    """Sizes of the two phases; ``family`` is the broad randomization (a target family)."""

    family: str = "broad"
    episodes: int = 800  # phase 1: expert episodes for the latent head
    epochs: int = 40
    rollouts: int = 150  # phase 2: policy episodes per round (round 1: true z, then estimates)
    rounds: int = 2
    module_epochs: int = 40
    latent: LatentConfig = field(default_factory=LatentConfig)
    exploration: ExplorationConfig = field(default_factory=lambda: ExplorationConfig(
        joint_noise=(0.0, 0.02), gain=(0.8, 2.0), random_action_prob=0.1))


def _torch(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


# --- phase 1: the latent-conditioned head and the encoder ---------------------------------------


def collect_latent_data(robot: str, head_config: HeadConfig, config: OnlineTrainConfig, seed: int,
                        episodes: int | None = None) -> tuple[RelabeledData, np.ndarray]:
    """Relabeled head data under the family plus each sample's privileged dynamics vector."""
    spec = assets.robot_spec(robot)
    sim = SimRobot(spec, assets.scene_spec("tabletop"))
    try:
        trajectories = collect_grasp_trajectories(
            sim, episodes or config.episodes, seed, randomization=FamilyRandomizer(config.family, spec.dof),
            controller=reference_controller(head_config), config=config.exploration,
            policy=ScriptedGraspExpert(head_config.max_displacement, predictive=True))
    finally:
        sim.close()
    horizons = [delay_horizon(t.dynamics) for t in trajectories]
    base = replace(head_config, latent=0)
    data = relabel(trajectories, spec, base, horizon=horizons)
    rows = [np.repeat(privileged_vector(t.dynamics, spec.dof)[None], len(t) + 1 - h, axis=0)
            for t, h in zip(trajectories, horizons, strict=True) if len(t) >= h]
    return data, np.concatenate(rows).astype(np.float32)


def fit_latent_head(data: RelabeledData, privileged: np.ndarray, dof: int, head_config: HeadConfig,
                    config: OnlineTrainConfig, seed: int) -> tuple[ControlHead, LatentEncoder, dict]:
    """Fit head(x, encoder(p)) to the relabeled actions, head and encoder together."""
    torch.manual_seed(seed)
    head = ControlHead(dof, replace(head_config, latent=config.latent.size))
    encoder = LatentEncoder(dof, config.latent)
    x, p, y = _torch(data.inputs), _torch(privileged), _torch(data.targets)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    n_val = max(1, len(x) // 10)
    val, train = order[:n_val], order[n_val:]
    encoder.set_normalization(p[train])
    head.set_normalization(torch.cat((x[train], torch.zeros(len(train), config.latent.size)), 1))
    head.input_std[-config.latent.size:] = 1.0  # z is in [-1, 1] already

    def loss(idx: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(head(torch.cat((x[idx], encoder(p[idx])), 1)), y[idx])

    optimizer = torch.optim.Adam([*head.parameters(), *encoder.parameters()], lr=1e-3)
    best = (float("inf"), None, 0)
    for epoch in range(1, config.epochs + 1):
        head.train(), encoder.train()
        for batch in torch.randperm(len(train), generator=generator).split(256):
            optimizer.zero_grad()
            loss(train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            current = loss(val).item()
        if current < best[0]:
            best = (current, (copy.deepcopy(head.state_dict()), copy.deepcopy(encoder.state_dict())), epoch)
    head.load_state_dict(best[1][0])
    encoder.load_state_dict(best[1][1])
    with torch.no_grad():
        train_loss = loss(train).item()
    return head.eval(), encoder.eval(), {"train_loss": train_loss, "validation_loss": best[0],
                                         "samples": float(len(x)), "epoch": float(best[2])}


# --- phase 2: the adaptation module -----------------------------------------------------------------


def rollout_trajectories(act: Act, head: ControlHead, encoder: LatentEncoder, robot: str, family: str,
                         episodes: int, seed: int, module: AdaptationModule | None = None) -> list[Trajectory]:
    """The policy's own episodes under the family: the head fed the true ``z`` (``module``
    None) or the module's estimates. Trajectories carry their dynamics."""
    spec = assets.robot_spec(robot)
    recorder = RecordingRobot(SimRobot(spec, assets.scene_spec("tabletop")))
    if module is None:
        controller = head_controller(head)
    else:
        controller = OnlineModule(head, encoder, module).controller_factory(OnlineEstimator(module, carry=False))
    env = GraspEnv(robot=recorder, randomization=FamilyRandomizer(family, spec.dof), controller=controller)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            recorder.trajectories[-1].dynamics = env.dynamics
            if module is None:
                env.controller.latent = encoder.encode(env.dynamics)
            for _ in range(50):
                obs, _, terminated, _, _ = env.step(act(obs))
                if terminated:
                    break
    finally:
        env.close()
    return recorder.take()


def window_data(trajectories: Sequence[Trajectory], encoder: LatentEncoder, window: int) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Every acting step's window (as the estimator builds it) and the true ``z`` to regress."""
    inputs, targets = [], []
    for t in trajectories:
        features = np.array([step_features(t.states[k], t.commands[k - 1] if k else None) for k in range(len(t))])
        inputs.append(windows(features, window))
        targets.append(np.repeat(encoder.encode(t.dynamics)[None], len(t), axis=0))
    return np.concatenate(inputs).astype(np.float32), np.concatenate(targets).astype(np.float32)


def fit_adaptation(inputs: np.ndarray, targets: np.ndarray, dof: int, config: OnlineTrainConfig,
                   seed: int) -> tuple[AdaptationModule, dict]:
    """Regress ``z`` on the windows (MSE; best held-out epoch)."""
    torch.manual_seed(seed)
    module = AdaptationModule(dof, config.latent)
    x, y = _torch(inputs), _torch(targets)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    n_val = max(1, len(x) // 10)
    val, train = order[:n_val], order[n_val:]
    module.set_normalization(x[train])
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    best = (float("inf"), None, 0)
    for epoch in range(1, config.module_epochs + 1):
        module.train()
        for batch in torch.randperm(len(train), generator=generator).split(256):
            idx = train[batch]
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(module(x[idx]), y[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            current = torch.nn.functional.mse_loss(module(x[val]), y[val]).item()
        if current < best[0]:
            best = (current, copy.deepcopy(module.state_dict()), epoch)
    module.load_state_dict(best[1])
    spread = float(y.var(0).mean())
    return module.eval(), {"validation_mse": best[0], "latent_variance": spread, "samples": float(len(x)),
                           "epoch": float(best[2])}


def train_adaptation(act: Act, head: ControlHead, encoder: LatentEncoder, robot: str, config: OnlineTrainConfig,
                     seed: int, note: Callable[[float], None] | None = None) -> tuple[AdaptationModule, dict]:
    """Phase 2 in rounds: roll out (true z, then estimates), aggregate windows, refit."""
    note = note or (lambda fraction: None)
    inputs, targets = [], []
    module, metrics = None, {}
    for r in range(config.rounds):
        note(r / config.rounds)
        trajectories = rollout_trajectories(act, head, encoder, robot, config.family, config.rollouts,
                                            seed + 10_000 * r, module)
        x, y = window_data(trajectories, encoder, config.latent.window)
        inputs.append(x)
        targets.append(y)
        module, metrics = fit_adaptation(np.concatenate(inputs), np.concatenate(targets), head.dof, config, seed + r)
    return module, metrics
