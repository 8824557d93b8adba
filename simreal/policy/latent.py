"""RMA-style online adaptation: a dynamics latent for the control head, and its estimator.

Kumar et al. (RMA, 2021) condition a base policy on a latent ``z`` of the environment,
learned in simulation from privileged parameters, and replace the privileged input on
the robot by an *adaptation module* that estimates ``z`` from the recent history of
states and actions, with no gradient steps there. Here:

- :class:`LatentEncoder`: privileged ``DynamicsParams`` (per-joint gains, torque limit,
  damping, masses, delay, friction; :func:`privileged_vector`) -> ``z``, trained jointly
  with a latent-conditioned control head (``HeadConfig.latent``) in simulation.
- :class:`AdaptationModule`: the last ``window`` control steps of proprioception and
  joint commands (:func:`step_features`) -> an estimate of ``z``, trained by regression.
- :class:`OnlineController`: the head with the module inside its control loop.

``z`` conditions the *control head*, not the high level: the dynamics it describes act
on how joint targets become motion, which is the head's job; the high level stays
frozen and bit-identical, as in every other adaptation method. Command delay, which
does reach the high level, is handled by its own observation (the commanded reference).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..robot import JointCommand, RobotState
from ..specs import DynamicsParams, RobotSpec
from .head import CONTROL_PERIOD, ControlHead, HeadController, NumpyMLP


def privileged_names(dof: int) -> tuple[str, ...]:
    """What :func:`privileged_vector` holds, in order (log of scales, so ratios are distances)."""
    return (*(f"log_gain_{j}" for j in range(dof)), "log_force_limit", "log_damping", "log_link_mass_scale",
            "payload_mass", "latency_steps", "latency_jitter", "log_finger_friction", "log_gripper_force",
            "log_object_mass_scale", "log_object_friction_scale")


def privileged_vector(dynamics: DynamicsParams, dof: int) -> np.ndarray:
    """The simulator's true dynamics as the encoder's input (see :func:`privileged_names`)."""
    d = dynamics
    gains = [math.log(max(g, 1e-3)) for g in d.gain_scales(dof)]
    return np.array([*gains, math.log(d.force_limit), math.log(0.1 + d.joint_damping), math.log(d.link_mass_scale),
                     d.payload_mass, float(d.latency_steps), float(d.latency_jitter),
                     math.log(max(d.finger_friction, 1e-3)), math.log(d.gripper_force),
                     math.log(d.object_mass_scale), math.log(max(d.object_friction_scale, 1e-3))])


def step_features(state: RobotState, previous: JointCommand | None) -> np.ndarray:
    """One control step as the adaptation module sees it: measured joints and velocities,
    how far the last command sent was from them (rad), the gripper opening and command (m)."""
    q = np.asarray(state.joint_positions, dtype=float)
    sent = q if previous is None else np.asarray(previous.positions, dtype=float)
    grip = state.gripper_width if previous is None else previous.gripper
    return np.concatenate((q, state.joint_velocities, sent - q, (state.gripper_width, grip)))


def feature_size(dof: int) -> int:
    return 3 * dof + 2


@dataclass(frozen=True)
class LatentConfig:
    """Sizes of the latent, its encoder and the adaptation module (``window`` control steps)."""

    size: int = 8
    encoder_hidden: tuple[int, ...] = (64, 64)
    window: int = 10
    module_hidden: tuple[int, ...] = (256, 128)

    def to_json(self) -> dict:
        return {"size": self.size, "encoder_hidden": list(self.encoder_hidden), "window": self.window,
                "module_hidden": list(self.module_hidden)}

    @classmethod
    def from_json(cls, data: dict) -> LatentConfig:
        return cls(int(data["size"]), tuple(data["encoder_hidden"]), int(data["window"]),
                   tuple(data["module_hidden"]))


def _mlp(size_in: int, hidden: tuple[int, ...], size_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(size_in, width), nn.Tanh()]
        size_in = width
    return nn.Sequential(*layers, nn.Linear(size_in, size_out))


class _Normalized(nn.Module):
    """An MLP with input normalisation buffers and a tanh output (latents live in [-1, 1])."""

    def __init__(self, size_in: int, hidden: tuple[int, ...], size_out: int) -> None:
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(size_in))
        self.register_buffer("input_std", torch.ones(size_in))
        self.net = _mlp(size_in, hidden, size_out)

    def set_normalization(self, inputs: torch.Tensor) -> None:
        self.input_mean.copy_(inputs.mean(0))
        self.input_std.copy_(inputs.std(0).clamp_min(1e-3))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net((inputs - self.input_mean) / self.input_std))

    def numpy_forward(self) -> Callable[[np.ndarray], np.ndarray]:
        return NumpyMLP(self)


class LatentEncoder(_Normalized):
    """Privileged dynamics (:func:`privileged_vector`) -> latent ``z`` (simulation only)."""

    def __init__(self, dof: int, config: LatentConfig) -> None:
        super().__init__(len(privileged_names(dof)), config.encoder_hidden, config.size)
        self.dof, self.config = dof, config

    @torch.no_grad()
    def encode(self, dynamics: DynamicsParams) -> np.ndarray:
        x = torch.as_tensor(privileged_vector(dynamics, self.dof), dtype=torch.float32)
        return self(x[None])[0].numpy().astype(np.float64)


class AdaptationModule(_Normalized):
    """The last ``window`` step features, oldest first and zero-padded at an episode's
    start, flattened -> an estimate of ``z``."""

    def __init__(self, dof: int, config: LatentConfig) -> None:
        super().__init__(config.window * feature_size(dof), config.module_hidden, config.size)
        self.dof, self.config = dof, config


def windows(features: np.ndarray, window: int) -> np.ndarray:
    """Every step's window over one episode's ``(steps, F)`` features (zero-padded start)."""
    padded = np.concatenate((np.zeros((window - 1, features.shape[1])), features))
    return np.stack([padded[t:t + window].ravel() for t in range(len(features))])


class OnlineEstimator:
    """Runs the adaptation module on a robot, one control step at a time.

    The window restarts with each episode. ``carry`` keeps the robot's estimate across
    episodes: until a new episode has filled its window, the estimate from the end of
    the previous one is used (the robot did not change at the reset). ``history`` holds
    every estimate made, for the settle time."""

    def __init__(self, module: AdaptationModule, carry: bool = True) -> None:
        self.config = module.config
        self._forward = module.numpy_forward()
        self._features: deque[np.ndarray] = deque(maxlen=self.config.window)
        self._size = feature_size(module.dof)
        self.carry = carry
        self.settled: np.ndarray | None = None
        self.history: list[np.ndarray] = []
        self._previous: JointCommand | None = None

    def begin_episode(self) -> None:
        if self.history and len(self._features) == self.config.window:
            self.settled = self.history[-1]
        self._features.clear()
        self._previous = None

    def estimate(self, state: RobotState) -> np.ndarray:
        """Add this state (with the last command sent) to the window and estimate ``z``."""
        self._features.append(step_features(state, self._previous))
        if self.carry and self.settled is not None and len(self._features) < self.config.window:
            z = self.settled
        else:
            rows = np.zeros((self.config.window, self._size))
            rows[self.config.window - len(self._features):] = np.array(self._features)
            z = self._forward(rows.ravel())
        self.history.append(np.asarray(z, dtype=float))
        return self.history[-1]

    def sent(self, command: JointCommand) -> None:
        self._previous = command


class OnlineController(HeadController):
    """A latent-conditioned head whose latent comes from the estimator, every step."""

    def __init__(self, head: ControlHead, estimator: OnlineEstimator, spec: RobotSpec,
                 control_period: float = CONTROL_PERIOD) -> None:
        super().__init__(head, spec, control_period)
        self.estimator = estimator

    def reset(self, state: RobotState) -> None:
        super().reset(state)
        self.estimator.begin_episode()

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        self.latent = self.estimator.estimate(state)
        command = super().__call__(state, displacement, gripper_width)
        self.estimator.sent(command)
        return command


@dataclass
class OnlineModule:
    """What online adaptation adds to a policy: the latent-conditioned head, the encoder
    it was trained with (kept for provenance and retraining) and the adaptation module."""

    head: ControlHead
    encoder: LatentEncoder
    adaptation: AdaptationModule

    def __post_init__(self) -> None:
        sizes = {"online_head": self.head.config.latent, "latent_encoder": self.encoder.config.size,
                 "adaptation_module": self.adaptation.config.size}
        if len(set(sizes.values())) != 1 or not self.head.config.latent:
            raise ValueError(f"latent sizes differ: {sizes}")
        if len({self.head.dof, self.encoder.dof, self.adaptation.dof}) != 1:
            raise ValueError("online head, encoder and adaptation module are for different numbers of joints")

    def controller_factory(self, estimator: OnlineEstimator | None = None
                           ) -> Callable[[RobotSpec, float], OnlineController]:
        """For ``GraspEnv(controller=...)``; pass an estimator to read its estimates afterwards."""
        def make(spec: RobotSpec, period: float) -> OnlineController:
            return OnlineController(self.head, estimator or OnlineEstimator(self.adaptation), spec, period)
        return make


__all__ = ["AdaptationModule", "LatentConfig", "LatentEncoder", "OnlineController", "OnlineEstimator",
           "OnlineModule", "feature_size", "privileged_names", "privileged_vector",
           "step_features", "windows"]
