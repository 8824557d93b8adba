"""Hindsight relabeling: train a control head on whatever motion really happened.

Each recorded step (measured state, joint targets sent, next measured state) becomes a
supervised example "to move the TCP by what it really moved, send these targets". The
same routine trains the source head in simulation and retrains it on a target robot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..kinematics import Kinematics
from ..policy.head import ControlHead, HeadConfig, gripper_command
from ..recording import Trajectory
from ..specs import RobotSpec


@dataclass
class RelabeledData:
    """Head inputs (ControlEnv observations with hindsight commands) and action targets."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)

    def extend(self, other: RelabeledData) -> RelabeledData:
        return RelabeledData(np.concatenate((self.inputs, other.inputs)),
                             np.concatenate((self.targets, other.targets)))


def relabel(trajectories: Sequence[Trajectory], spec: RobotSpec, config: HeadConfig,
            kinematics: Kinematics | None = None) -> RelabeledData:
    """Turn recorded trajectories into head training data (see module docstring)."""
    kinematics = kinematics or Kinematics(spec)
    inputs, targets = [], []
    for trajectory in trajectories:
        if len(trajectory) == 0:
            continue
        x, y = _relabel_one(trajectory, spec, config, kinematics)
        inputs.append(x)
        targets.append(y)
    if not inputs:
        raise ValueError("no recorded steps to relabel")
    return RelabeledData(np.concatenate(inputs).astype(np.float32), np.concatenate(targets).astype(np.float32))


def _relabel_one(trajectory: Trajectory, spec: RobotSpec, config: HeadConfig,
                 kinematics: Kinematics) -> tuple[np.ndarray, np.ndarray]:
    q = trajectory.joint_positions()
    dq = np.array([s.joint_velocities for s in trajectory.states])
    width = np.array([s.gripper_width for s in trajectory.states])
    steps = len(trajectory)
    joints = np.clip((trajectory.command_positions() - q[:-1]) / config.max_joint_step, -1.0, 1.0)
    grips = np.array([gripper_command(c.gripper, spec) for c in trajectory.commands])
    actions = np.column_stack((joints, grips))
    ee = np.array([kinematics.tcp_pose(qt)[0] for qt in q])
    hindsight = (ee[1:] - ee[:-1]) / config.max_displacement
    history = np.zeros((steps, config.history, spec.dof + 1))
    for lag in range(1, min(config.history, steps - 1) + 1):
        history[lag:, lag - 1] = actions[:-lag]
    x = np.column_stack((q[:-1], dq[:-1], width[:-1], history.reshape(steps, -1), hindsight, grips))
    return x, joints


@dataclass(frozen=True)
class FitConfig:
    """Supervised fitting of a head: Adam, MSE on actions, a held-out validation split.

    ``freeze_layers`` keeps the first k linear layers fixed; ``layer_lr_decay`` gives
    each earlier layer that factor times the learning rate of the layer after it.
    """

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    refit_normalization: bool = True
    freeze_layers: int = 0
    layer_lr_decay: float = 1.0


def parameter_groups(head: ControlHead, config: FitConfig) -> list[dict]:
    """Adam parameter groups implementing layer freezing and per-layer learning rates."""
    linears = [m for m in head.net if isinstance(m, torch.nn.Linear)]
    if not 0 <= config.freeze_layers < len(linears):
        raise ValueError(f"freeze_layers must be in [0, {len(linears) - 1}] for this head, got {config.freeze_layers}")
    groups = []
    for i, layer in enumerate(linears):
        trainable = i >= config.freeze_layers
        for p in layer.parameters():
            p.requires_grad_(trainable)
        if trainable:
            lr = config.learning_rate * config.layer_lr_decay ** (len(linears) - 1 - i)
            groups.append({"params": list(layer.parameters()), "lr": lr})
    return groups


def fit_head(head: ControlHead, data: RelabeledData, config: FitConfig | None = None,
             seed: int = 0) -> dict[str, float]:
    """Fit ``head`` in place on relabeled data; returns train/validation losses."""
    config = config or FitConfig()
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(data.inputs), torch.from_numpy(data.targets)
    order = torch.randperm(len(x), generator=generator)
    n_val = max(1, int(len(x) * config.validation_fraction))
    val, train = order[:n_val], order[n_val:]
    if config.refit_normalization:
        head.set_normalization(x[train])
    optimizer = torch.optim.Adam(parameter_groups(head, config))
    for _ in range(config.epochs):
        head.train()
        for batch in torch.randperm(len(train), generator=generator).split(config.batch_size):
            idx = train[batch]
            loss = torch.nn.functional.mse_loss(head(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    head.eval()
    with torch.no_grad():
        train_loss = torch.nn.functional.mse_loss(head(x[train]), y[train]).item()
        val_loss = torch.nn.functional.mse_loss(head(x[val]), y[val]).item()
    return {"train_loss": train_loss, "validation_loss": val_loss, "samples": float(len(x))}
