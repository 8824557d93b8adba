"""The DQN's feature layers: a small CNN over the maze image, and its progressive-column variant.

Both are Stable-Baselines3 ``BaseFeaturesExtractor`` s, so SB3's Q-network puts its Q-head (an
MLP to one value per action) on top. *Frozen* here means two things at once: no parameter
takes a gradient (``requires_grad=False``) and the module stays in eval mode even when SB3
calls ``policy.set_training_mode(True)`` at every ``train()`` (which would otherwise flip
dropout or batch-norm layers of a frozen part back to training mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class Freezable(nn.Module):
    """A module that can be frozen: no gradients, and eval mode that ``train()`` cannot undo."""

    frozen: bool = False

    def freeze(self) -> None:
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.frozen = True
        self.eval()

    def train(self, mode: bool = True) -> Freezable:
        return super().train(mode and not self.frozen)


class ConvColumn(Freezable):
    """3x3 convolutions (no padding, ReLU), then one linear layer (ReLU): the feature layers.

    ``hidden(x)`` returns every layer's activation, for lateral connections.
    """

    def __init__(self, shape: Sequence[int], channels: Sequence[int], features_dim: int,
                 lateral_from: ConvColumn | None = None) -> None:
        super().__init__()
        sizes = [shape[0], *channels]
        self.convs = nn.ModuleList(nn.Conv2d(sizes[i], sizes[i + 1], 3) for i in range(len(channels)))
        height, width = shape[1] - 2 * len(channels), shape[2] - 2 * len(channels)
        if height < 1 or width < 1:
            raise ValueError(f"an image of shape {tuple(shape)} is too small for {len(channels)} 3x3 convolutions")
        self.flat = sizes[-1] * height * width
        self.linear = nn.Linear(self.flat, features_dim)
        # lateral[i] carries the other column's layer i into this column's layer i + 1
        self.lateral = None
        if lateral_from is not None:
            self.lateral = nn.ModuleList([*(nn.Conv2d(c, n, 3) for c, n in pairwise(channels)),
                                          nn.Linear(lateral_from.flat, features_dim)])

    def hidden(self, x: torch.Tensor, other: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Activations of every layer; ``other`` is the lateral column's, when this column has laterals."""
        out = []
        for i, conv in enumerate(self.convs):
            pre = conv(x)
            if other is not None and self.lateral is not None and i:
                pre = pre + self.lateral[i - 1](other[i - 1])
            x = torch.relu(pre)
            out.append(x)
        pre = self.linear(x.flatten(1))
        if other is not None and self.lateral is not None:
            pre = pre + self.lateral[-1](other[len(self.convs) - 1].flatten(1))
        out.append(torch.relu(pre))
        return out


class MazeCNN(BaseFeaturesExtractor, Freezable):
    """Feature layers of the maze DQN: image (C, H, W) -> ``features_dim`` features."""

    def __init__(self, observation_space: gym.spaces.Box, channels: Sequence[int] = (16, 32),
                 features_dim: int = 64) -> None:
        super().__init__(observation_space, features_dim)
        self.channels = tuple(channels)
        self.column = ConvColumn(observation_space.shape, self.channels, features_dim)

    def architecture(self) -> dict:
        return {"type": "cnn", "channels": list(self.channels), "features_dim": self.features_dim}

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.column.hidden(observations)[-1]


class ProgressiveMazeCNN(BaseFeaturesExtractor, Freezable):
    """A frozen source column beside a new column with lateral connections (Rusu et al. 2016).

    Each layer of the new column also reads the previous layer of the source column; the
    features handed to the Q-head are both columns' last layers side by side (so the head's
    input layer is the lateral from the source's last layer). The source column is frozen
    on construction and never changes; only the new column and the laterals learn.
    ``source`` is the state dict of a :class:`MazeCNN` (``None`` when a saved progressive
    network's own state dict is loaded afterwards).
    """

    def __init__(self, observation_space: gym.spaces.Box, channels: Sequence[int] = (16, 32),
                 features_dim: int = 64, source: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__(observation_space, 2 * features_dim)
        self.channels, self.column_dim = tuple(channels), features_dim
        self.source = ConvColumn(observation_space.shape, self.channels, features_dim)
        if source is not None:
            self.source.load_state_dict({k.removeprefix("column."): v for k, v in source.items()})
        self.source.freeze()
        self.column = ConvColumn(observation_space.shape, self.channels, features_dim, lateral_from=self.source)

    def architecture(self) -> dict:
        return {"type": "progressive", "channels": list(self.channels), "features_dim": self.column_dim}

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        source = self.source.hidden(observations)
        new = self.column.hidden(observations, source)
        return torch.cat((new[-1], source[-1]), dim=1)


EXTRACTORS = {"cnn": MazeCNN, "progressive": ProgressiveMazeCNN}


def frozen_modules(module: nn.Module) -> list[Freezable]:
    """Every frozen part inside ``module``."""
    return [m for m in module.modules() if isinstance(m, Freezable) and m.frozen]


__all__ = ["EXTRACTORS", "ConvColumn", "Freezable", "MazeCNN", "ProgressiveMazeCNN", "frozen_modules"]
