"""Source training of the control head in simulation, and its tracking report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import assets
from ..controllers import Controller
from ..envs import time_limited_grasp_env
from ..policy import ScriptedGraspExpert
from ..policy.head import ControlHead, HeadConfig
from ..sim import SimRobot
from .exploration import collect_grasp_trajectories
from .relabel import FitConfig, RelabeledData, fit_head, relabel


def collect_head_data(robot: str, episodes: int, seed: int, randomization: str | None = "default",
                      config: HeadConfig | None = None, scene: str = "tabletop") -> RelabeledData:
    """Expert grasp episodes through the analytic controller plus exploration, relabeled."""
    spec = assets.robot_spec(robot)
    sim = SimRobot(spec, assets.scene_spec(scene))
    try:
        trajectories = collect_grasp_trajectories(sim, episodes, seed, randomization=randomization)
    finally:
        sim.close()
    return relabel(trajectories, spec, config or HeadConfig())


def train_head(data: RelabeledData, dof: int, seed: int, config: HeadConfig | None = None,
               fit: FitConfig | None = None) -> tuple[ControlHead, dict[str, float]]:
    """A fresh head fitted to relabeled data (seeded initialisation and batches)."""
    torch.manual_seed(seed)
    head = ControlHead(dof, config or HeadConfig())
    metrics = fit_head(head, data, fit, seed=seed)
    return head, metrics


@dataclass(frozen=True)
class TrackingResult:
    """Scripted-expert grasping through one controller: success and TCP tracking error (mm)."""

    success_rate: float
    tracking_error_mm: float


def tracking_report(controller: Callable[..., Controller] | None, robot: str, randomization: str | None,
                    episodes: int, seed: int) -> TrackingResult:
    """Mean |achieved - commanded| TCP displacement per step while the expert grasps."""
    env = time_limited_grasp_env(robot=robot, randomization=randomization, controller=controller)
    expert = ScriptedGraspExpert()
    scale = env.unwrapped.max_displacement
    errors, successes = [], 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = expert(obs)
            before = obs[:3].copy()
            obs, _, terminated, truncated, info = env.step(action)
            errors.append(np.linalg.norm(obs[:3] - before - action[:3] * scale))
            done = terminated or truncated
        successes += bool(info["is_success"])
    env.close()
    return TrackingResult(successes / episodes, float(np.mean(errors)) * 1000.0)
