"""The control head: the low-level policy that adapts to each robot.

Input is the ControlEnv observation (measured joints, velocities, gripper width, the
last ``history`` actions so latency is observable, and the command: desired TCP
displacement in units of ``max_displacement`` plus the gripper command). Output is joint
position targets relative to the measured joints, in units of ``max_joint_step``. The
gripper command passes through: grippers run their own closed-loop controller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..envs.control import control_layout
from ..envs.layout import Layout
from ..robot import JointCommand, RobotState
from ..specs import RobotSpec


@dataclass(frozen=True)
class HeadConfig:
    """Architecture and action scaling of a control head."""

    hidden: tuple[int, ...] = (256, 256)
    history: int = 4
    max_displacement: float = 0.03  # m per command unit (must match GraspEnv)
    max_joint_step: float = 0.15  # rad per action unit (must match ControlEnv)

    def to_json(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_json(cls, data: dict) -> HeadConfig:
        return cls(**{**data, "hidden": tuple(data["hidden"])})


class ControlHead(nn.Module):
    """MLP with input normalisation: ControlEnv observation -> dof actions in [-1, 1]."""

    def __init__(self, dof: int, config: HeadConfig | None = None) -> None:
        super().__init__()
        self.dof = dof
        self.config = config or HeadConfig()
        self.layout: Layout = control_layout(dof, self.config.history)
        size = self.layout.size
        self.register_buffer("input_mean", torch.zeros(size))
        self.register_buffer("input_std", torch.ones(size))
        layers: list[nn.Module] = []
        for width in self.config.hidden:
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        layers.append(nn.Linear(size, dof))
        self.net = nn.Sequential(*layers)

    def set_normalization(self, inputs: torch.Tensor) -> None:
        """Fit the input normalisation to a batch of observations."""
        self.input_mean.copy_(inputs.mean(0))
        self.input_std.copy_(inputs.std(0).clamp_min(1e-3))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net((inputs - self.input_mean) / self.input_std))

    def numpy_forward(self) -> NumpyMLP:
        """A copy of the current weights for fast single-sample inference."""
        return NumpyMLP(self)


def _numpy_layers(net: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    with torch.no_grad():
        return [(m.weight.numpy().T.astype(np.float64), m.bias.numpy().astype(np.float64))
                for m in net if isinstance(m, nn.Linear)]


def numpy_pre_activation(layers: list[tuple[np.ndarray, np.ndarray]], h: np.ndarray) -> np.ndarray:
    """Tanh MLP in numpy, without the output non-linearity."""
    for weight, bias in layers[:-1]:
        h = np.tanh(h @ weight + bias)
    weight, bias = layers[-1]
    return h @ weight + bias


class NumpyMLP:
    """The head's forward pass in numpy: ~5x faster than torch for one sample."""

    def __init__(self, head: ControlHead) -> None:
        with torch.no_grad():
            self.mean = head.input_mean.numpy().astype(np.float64)
            self.scale = 1.0 / head.input_std.numpy().astype(np.float64)
        self.layers = _numpy_layers(head.net)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(numpy_pre_activation(self.layers, (x - self.mean) * self.scale))


def gripper_command(width: float, spec: RobotSpec) -> float:
    """Gripper opening (m) -> command units (-1 open, +1 closed)."""
    return 1.0 - 2.0 * width / spec.gripper.max_width


class HeadInterface:
    """The head's view of the robot: builds its input from a state and a command, and
    turns its action into joint targets, keeping the action history in between. Shared
    by the learned head's controller and RL fine-tuning, which supplies actions itself."""

    def __init__(self, spec: RobotSpec, config: HeadConfig) -> None:
        self.spec = spec
        self.config = config
        self._actions = np.zeros((config.history, spec.dof + 1))

    def reset(self, state: RobotState) -> None:
        self._actions[:] = 0.0

    def observe(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> np.ndarray:
        """The head's input (ControlEnv observation layout) for this state and command."""
        grip = gripper_command(gripper_width, self.spec)
        return np.concatenate((state.joint_positions, state.joint_velocities, (state.gripper_width,),
                               self._actions.ravel(), np.asarray(displacement) / self.config.max_displacement,
                               (grip,)))

    def command(self, state: RobotState, action: np.ndarray, gripper_width: float) -> JointCommand:
        """Joint targets for a head action; the gripper command passes through."""
        self._actions[1:] = self._actions[:-1]
        self._actions[0, :-1] = action
        self._actions[0, -1] = gripper_command(gripper_width, self.spec)
        targets = state.joint_positions + np.asarray(action) * self.config.max_joint_step
        return JointCommand(np.minimum(np.maximum(targets, self.spec.lower), self.spec.upper), float(gripper_width))


class HeadController(HeadInterface):
    """A learned control head used as a Controller (drop-in for the analytic IK)."""

    def __init__(self, head: ControlHead, spec: RobotSpec) -> None:
        if head.dof != spec.dof:
            raise ValueError(f"head has {head.dof} joints, robot {spec.name} has {spec.dof}")
        super().__init__(spec, head.config)
        self._forward = head.numpy_forward()

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        action = self._forward(self.observe(state, displacement, gripper_width))
        return self.command(state, action, gripper_width)


def head_controller(head: ControlHead) -> Callable[[RobotSpec, float], HeadController]:
    """Controller factory for ``GraspEnv(controller=...)`` driving the robot through ``head``."""
    return lambda spec, period: HeadController(head, spec)
