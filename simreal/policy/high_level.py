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
        linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)]
        linears.append(policy.action_net)
        ours = [m for m in module.net if isinstance(m, nn.Linear)]
        if len(ours) != len(linears):
            raise ValueError(f"SB3 actor has {len(linears)} linear layers, config expects {len(ours)}")
        with torch.no_grad():
            for mine, theirs in zip(ours, linears, strict=True):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return module
