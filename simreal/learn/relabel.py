"""Hindsight relabeling: train a control head on whatever motion really happened.

Each recorded step (measured state, joint targets sent, next measured state) becomes a
supervised example "to move the TCP by what it really moved, send these targets". The
same routine trains the source head in simulation and retrains it on a target robot.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..kinematics import Kinematics
from ..policy.head import ControlHead, HeadConfig, gripper_command
from ..recording import Trajectory
from ..specs import DynamicsParams, RobotSpec


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


def delay_horizon(dynamics: DynamicsParams | None, default: int = 1) -> int:
    """The relabel horizon for commands with these dynamics' delay: latency + 1, plus half
    the jitter (the steps until a command has typically taken effect); ``default`` when
    the dynamics are unknown (a target's)."""
    if dynamics is None:
        return default
    return dynamics.latency_steps + 1 + dynamics.latency_jitter // 2


def relabel(trajectories: Sequence[Trajectory], spec: RobotSpec, config: HeadConfig,
            kinematics: Kinematics | None = None, horizon: int | Sequence[int] = 1) -> RelabeledData:
    """Turn recorded trajectories into head training data (see module docstring).

    ``horizon`` h (one for all trajectories, or one per trajectory) credits the targets
    sent at step t with where the arm was at t + h. On a robot whose commands arrive d
    steps late, h = d + 1 is when they have taken effect. For a head anchored on the
    measured joints it teaches where the TCP will be once its targets take effect, with
    the pending targets visible in its action history; for a reference-anchored head the
    joints at t + h are the reference those targets realised (:func:`_relabel_reference`).
    h = 1 is plain one-step relabeling.
    """
    horizons = [horizon] * len(trajectories) if isinstance(horizon, int) else list(horizon)
    if len(horizons) != len(trajectories):
        raise ValueError(f"{len(horizons)} relabel horizons for {len(trajectories)} trajectories")
    if any(h < 1 for h in horizons):
        raise ValueError(f"relabel horizon must be >= 1 control step, got {min(horizons)}")
    if config.latent:
        raise ValueError("a latent-conditioned head is fitted with its latent (simreal.learn.online), not relabel()")
    kinematics = kinematics or Kinematics(spec)
    one = _relabel_reference if config.anchor == "reference" else _relabel_one
    inputs, targets = [], []
    for trajectory, h in zip(trajectories, horizons, strict=True):
        if len(trajectory) < h:
            continue
        x, y = one(trajectory, spec, config, kinematics, h)
        inputs.append(x)
        targets.append(y)
    if not inputs:
        raise ValueError("no recorded steps to relabel")
    return RelabeledData(np.concatenate(inputs).astype(np.float32), np.concatenate(targets).astype(np.float32))


def _relabel_one(trajectory: Trajectory, spec: RobotSpec, config: HeadConfig,
                 kinematics: Kinematics, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    q = trajectory.joint_positions()
    dq = np.array([s.joint_velocities for s in trajectory.states])
    width = np.array([s.gripper_width for s in trajectory.states])
    steps = len(trajectory)
    joints = np.clip((trajectory.command_positions() - q[:-1]) / config.max_joint_step, -1.0, 1.0)
    grips = np.array([gripper_command(c.gripper, spec) for c in trajectory.commands])
    actions = np.column_stack((joints, grips))
    ee = np.array([kinematics.tcp_pose(qt)[0] for qt in q])
    history = np.zeros((steps, config.history, spec.dof + 1))
    for lag in range(1, min(config.history, steps - 1) + 1):
        history[lag:, lag - 1] = actions[:-lag]
    n = steps + 1 - horizon
    hindsight = (ee[horizon:] - ee[:n]) / config.max_displacement
    x = np.column_stack((q[:n], dq[:n], width[:n], history.reshape(steps, -1)[:n], hindsight, grips[:n]))
    return x, joints[:n]


def _relabel_reference(trajectory: Trajectory, spec: RobotSpec, config: HeadConfig,
                       kinematics: Kinematics, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference-anchored head: the joints reached ``horizon`` steps later are the
    hindsight reference of the targets sent at t, and the action is those targets'
    offset from it (``head_layout``: the reference offset and the command are the
    reference's, the action history holds earlier such offsets)."""
    q = trajectory.joint_positions()
    dq = np.array([s.joint_velocities for s in trajectory.states])
    width = np.array([s.gripper_width for s in trajectory.states])
    n = len(trajectory) + 1 - horizon
    reference = q[horizon:horizon + n]
    joints = np.clip((trajectory.command_positions()[:n] - reference) / config.max_joint_step, -1.0, 1.0)
    grips = np.array([gripper_command(c.gripper, spec) for c in trajectory.commands[:n]])
    actions = np.column_stack((joints, grips))
    history = np.zeros((n, config.history, spec.dof + 1))
    for lag in range(1, min(config.history, n - 1) + 1):
        history[lag:, lag - 1] = actions[:-lag]
    ee = np.array([kinematics.tcp_pose(qt)[0] for qt in q[horizon - 1:horizon + n]])
    command = (ee[1:] - ee[:-1]) / config.max_displacement
    x = np.column_stack((q[:n], dq[:n], width[:n], history.reshape(n, -1), reference - q[:n], command, grips))
    return x, joints


@dataclass(frozen=True)
class FitConfig:
    """Supervised fitting of a head: Adam, MSE on actions, a held-out validation split.

    ``freeze_layers`` keeps the first k linear layers fixed; ``layer_lr_decay`` gives
    each earlier layer that factor times the learning rate of the layer after it.
    ``best_epoch`` returns the weights of the epoch with the lowest validation loss
    (early stopping), which matters when a few thousand target samples are fitted.
    """

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    refit_normalization: bool = True
    freeze_layers: int = 0
    layer_lr_decay: float = 1.0
    best_epoch: bool = False


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
    best = (_loss(head, x[val], y[val]), copy.deepcopy(head.state_dict()), 0) if config.best_epoch else None
    for epoch in range(1, config.epochs + 1):
        head.train()
        for batch in torch.randperm(len(train), generator=generator).split(config.batch_size):
            idx = train[batch]
            loss = torch.nn.functional.mse_loss(head(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if best is not None:
            val_loss = _loss(head, x[val], y[val])
            if val_loss < best[0]:
                best = (val_loss, copy.deepcopy(head.state_dict()), epoch)
    if best is not None:
        head.load_state_dict(best[1])
    head.eval()
    return {"train_loss": _loss(head, x[train], y[train]), "validation_loss": _loss(head, x[val], y[val]),
            "samples": float(len(x)), "epoch": float(best[2] if best is not None else config.epochs)}


def _loss(head: ControlHead, x: torch.Tensor, y: torch.Tensor) -> float:
    head.eval()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(head(x), y).item()
