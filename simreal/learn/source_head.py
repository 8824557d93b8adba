"""Source training of the control head in simulation, and its tracking report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import assets
from ..controllers import Controller, ReferenceIKController
from ..envs import time_limited_grasp_env
from ..policy import ScriptedGraspExpert
from ..policy.head import ControlHead, HeadConfig
from ..sim import SimRobot
from ..specs import RobotSpec
from .exploration import ExplorationConfig, collect_grasp_trajectories
from .relabel import FitConfig, RelabeledData, delay_horizon, fit_head, relabel


def collect_head_data(robot: str, episodes: int, seed: int, randomization: str | None = "default",
                      config: HeadConfig | None = None, scene: str = "tabletop",
                      exploration: ExplorationConfig | None = None) -> RelabeledData:
    """Expert grasp episodes through the analytic controller plus exploration, relabeled.

    A reference-anchored head learns from the predictive expert driving the
    ``ReferenceIKController`` (the analytic version of its own anchor), each episode
    relabeled at the horizon its simulated delay calls for (``delay_horizon``); a
    measured-anchored head from the plain expert through differential IK, one step."""
    config = config or HeadConfig()
    spec = assets.robot_spec(robot)
    sim = SimRobot(spec, assets.scene_spec(scene))
    reference = config.anchor == "reference"
    try:
        trajectories = collect_grasp_trajectories(
            sim, episodes, seed, randomization=randomization, config=exploration,
            controller=reference_controller(config) if reference else None,
            policy=ScriptedGraspExpert(config.max_displacement, predictive=True) if reference else None)
    finally:
        sim.close()
    horizons = [delay_horizon(t.dynamics) if reference else 1 for t in trajectories]
    return relabel(trajectories, spec, config, horizon=horizons)


def reference_controller(config: HeadConfig) -> Callable[[RobotSpec, float], Controller]:
    """Factory of the analytic controller a reference-anchored head refines."""
    return lambda spec, period: ReferenceIKController(spec, period, max_lead=config.max_lead)


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
                    episodes: int, seed: int, predictive: bool = False) -> TrackingResult:
    """Mean |achieved - commanded| TCP displacement per step while the expert grasps.

    Under command delay the achieved motion lags the command by the delay, so this is a
    tracking error only without it; it still ranks controllers on the same episodes."""
    env = time_limited_grasp_env(robot=robot, randomization=randomization, controller=controller)
    expert = ScriptedGraspExpert(predictive=predictive)
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
