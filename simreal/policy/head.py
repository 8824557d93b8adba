"""The control head: the low-level policy that adapts to each robot.

Input is the ControlEnv observation (measured joints, velocities, gripper width, the
last ``history`` actions so latency is observable, and the command: desired TCP
displacement in units of ``max_displacement`` plus the gripper command). Output is joint
position targets in units of ``max_joint_step`` relative to an *anchor*
(``HeadConfig.anchor``):

- ``measured``: the measured joints. Simple, but a command that reaches the motors d
  steps late is then aimed from where the arm was when it was sent.
- ``reference``: a joint reference that integrates the commands through the nominal
  differential kinematics (``ReferenceIKController``); the head outputs a correction
  on top of it and also reads the reference's offset from the measured joints. Late
  commands continue the path of the earlier ones, and the high level can see where the
  commands already sent will put the hand.

A head may also read a dynamics latent (``HeadConfig.latent`` > 0, the RMA-style online
adaptation in ``policy.latent``). The gripper command passes through: grippers run their
own closed-loop controller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..controllers import ReferenceIKController
from ..envs.control import control_layout
from ..envs.layout import Layout
from ..robot import JointCommand, RobotState
from ..specs import RobotSpec

ANCHORS = ("measured", "reference")
CONTROL_PERIOD = 0.05  # s, the grasp task's; the reference's joint speed cap uses it


@dataclass(frozen=True)
class HeadConfig:
    """Architecture, action scaling and anchor of a control head (see the module docstring)."""

    hidden: tuple[int, ...] = (256, 256)
    history: int = 4
    max_displacement: float = 0.03  # m per command unit (must match GraspEnv)
    max_joint_step: float = 0.15  # rad per action unit (must match ControlEnv)
    anchor: str = "measured"  # what the joint targets are relative to: one of ANCHORS
    latent: int = 0  # size of the dynamics latent the head reads (0: none)
    max_lead: float = 1.0  # rad: how far the reference anchor may run ahead of the measured joints

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"head anchor must be one of {', '.join(ANCHORS)}, got {self.anchor!r}")

    def to_json(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_json(cls, data: dict) -> HeadConfig:
        """Read a manifest's head entry; keys added since (anchor, latent) default for older heads."""
        return cls(**{**data, "hidden": tuple(data["hidden"])})


def head_layout(dof: int, config: HeadConfig) -> Layout:
    """The head's input layout: ControlEnv's, plus the reference offset and the latent if used."""
    blocks = list(control_layout(dof, config.history).blocks)
    if config.anchor == "reference":
        blocks.insert(len(blocks) - 1, ("reference_offset", dof))
    if config.latent:
        blocks.append(("dynamics_latent", config.latent))
    return Layout(tuple(blocks))


class ControlHead(nn.Module):
    """MLP with input normalisation: ControlEnv observation -> dof actions in [-1, 1]."""

    def __init__(self, dof: int, config: HeadConfig | None = None) -> None:
        super().__init__()
        self.dof = dof
        self.config = config or HeadConfig()
        self.layout: Layout = head_layout(dof, self.config)
        size = self.layout.size
        self.register_buffer("input_mean", torch.zeros(size))
        self.register_buffer("input_std", torch.ones(size))
        layers: list[nn.Module] = []
        for width in self.config.hidden:
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        layers.append(nn.Linear(size, dof))
        self.net = nn.Sequential(*layers)

    def zero_output_(self) -> ControlHead:
        """Make the head output 0 everywhere: for a reference-anchored head, the analytic
        reference controller itself (the correction a head that has not learned adds)."""
        last = self.net[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        return self

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
    turns its action into joint targets, keeping the action history (and, for the
    reference anchor, the reference) in between. Shared by the learned head's controller
    and RL fine-tuning, which supplies actions itself. ``latent`` is the dynamics latent
    fed to a head that reads one; whoever estimates it sets it before each step."""

    def __init__(self, spec: RobotSpec, config: HeadConfig, control_period: float = CONTROL_PERIOD) -> None:
        self.spec = spec
        self.config = config
        self._actions = np.zeros((config.history, spec.dof + 1))
        self._reference = (ReferenceIKController(spec, control_period, max_lead=config.max_lead)
                           if config.anchor == "reference" else None)
        self._next: np.ndarray | None = None
        self.latent = np.zeros(config.latent)

    @property
    def reference(self) -> np.ndarray | None:
        """The joint reference of a reference-anchored head (None for a measured one)."""
        return None if self._reference is None else self._reference.reference

    def reset(self, state: RobotState) -> None:
        self._actions[:] = 0.0
        if self._reference is not None:
            self._reference.reset(state)
        self._next = None

    def observe(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> np.ndarray:
        """The head's input (:func:`head_layout`) for this state and command."""
        grip = gripper_command(gripper_width, self.spec)
        parts = [state.joint_positions, state.joint_velocities, (state.gripper_width,), self._actions.ravel()]
        if self._reference is not None:
            self._next = self._reference.advance(state, np.asarray(displacement, dtype=float))
            parts.append(self._next - state.joint_positions)
        parts += [np.asarray(displacement) / self.config.max_displacement, (grip,)]
        if self.config.latent:
            parts.append(self.latent)
        return np.concatenate(parts)

    def command(self, state: RobotState, action: np.ndarray, gripper_width: float) -> JointCommand:
        """Joint targets for a head action; the gripper command passes through."""
        self._actions[1:] = self._actions[:-1]
        self._actions[0, :-1] = action
        self._actions[0, -1] = gripper_command(gripper_width, self.spec)
        q = state.joint_positions
        offset = np.asarray(action) * self.config.max_joint_step
        if self._reference is None:
            targets = q + offset
        else:
            anchor = self._next if self._next is not None else self._reference.advance(state, np.zeros(3))
            self._reference.commit(anchor)
            self._next = None
            lead = self.config.max_lead
            targets = np.minimum(np.maximum(anchor + offset, q - lead), q + lead)
        return JointCommand(np.minimum(np.maximum(targets, self.spec.lower), self.spec.upper), float(gripper_width))


class HeadController(HeadInterface):
    """A learned control head used as a Controller (drop-in for the analytic IK)."""

    def __init__(self, head: ControlHead, spec: RobotSpec, control_period: float = CONTROL_PERIOD) -> None:
        if head.dof != spec.dof:
            raise ValueError(f"head has {head.dof} joints, robot {spec.name} has {spec.dof}")
        super().__init__(spec, head.config, control_period)
        self._forward = head.numpy_forward()

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        action = self._forward(self.observe(state, displacement, gripper_width))
        return self.command(state, action, gripper_width)


def head_controller(head: ControlHead) -> Callable[[RobotSpec, float], HeadController]:
    """Controller factory for ``GraspEnv(controller=...)`` driving the robot through ``head``."""
    return lambda spec, period: HeadController(head, spec, period)
