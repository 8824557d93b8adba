"""The high-level grasp policy as a plain torch module (no SB3 pickles in checkpoints).

Training uses Stable-Baselines3; its actor's weights are copied into this module, whose
architecture is fully described by :class:`HighLevelConfig` and stored in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class HighLevelConfig:
    """MLP actor: observation -> action mean (then clipped to [-1, 1])."""

    observation_size: int
    action_size: int = 4
    hidden: tuple[int, ...] = (256, 256)

    def to_json(self) -> dict:
        return {"type": "mlp", "observation_size": self.observation_size, "action_size": self.action_size,
                "hidden": list(self.hidden), "activation": "tanh"}

    @classmethod
    def from_json(cls, data: dict) -> HighLevelConfig:
        return cls(int(data["observation_size"]), int(data["action_size"]), tuple(data["hidden"]))


class HighLevelPolicy(nn.Module):
    """Task brain: grasp observation -> end-effector displacement + gripper command."""

    def __init__(self, config: HighLevelConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        size = config.observation_size
        for width in config.hidden:
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        layers.append(nn.Linear(size, config.action_size))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action in [-1, 1] for one observation or a batch."""
        out = self.net(torch.as_tensor(obs, dtype=torch.float32))
        return out.clamp(-1.0, 1.0).numpy()

    @classmethod
    def from_sb3(cls, policy: object, config: HighLevelConfig) -> HighLevelPolicy:
        """Copy an SB3 ActorCriticPolicy's actor (mlp_extractor.policy_net + action_net)."""
        module = cls(config)
        _copy_linears(_sb3_actor(policy), module._linears())
        return module

    def copy_to_sb3(self, policy: object) -> None:
        """The inverse of :meth:`from_sb3`: this module's weights into an SB3 actor of the
        same shape (its critic is left as it is)."""
        _copy_linears(self._linears(), _sb3_actor(policy))

    def _linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]


def _sb3_actor(policy: object) -> list[nn.Linear]:
    return [*(m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)), policy.action_net]


def _copy_linears(source: list[nn.Linear], target: list[nn.Linear]) -> None:
    shapes = [tuple(m.weight.shape) for m in source], [tuple(m.weight.shape) for m in target]
    if shapes[0] != shapes[1]:
        raise ValueError(f"actor layers {shapes[0]} do not match {shapes[1]}")
    with torch.no_grad():
        for mine, theirs in zip(source, target, strict=True):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
