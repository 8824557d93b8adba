"""SourceAdapter: the shared part of heads that add trainable layers to a frozen source head."""

from __future__ import annotations

import torch
from torch import nn

from .head import ControlHead


def zero_linear(size_in: int, size_out: int) -> nn.Linear:
    """A linear layer initialised to output zero, so an adapter starts as its source."""
    layer = nn.Linear(size_in, size_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class SourceAdapter(nn.Module):
    """Holds a frozen ``source`` ControlHead: no gradients and always in eval mode, its input
    normalisation reused. Subclasses add the trainable layers (``net`` first) and ``kind``."""

    kind = ""

    def __init__(self, source: ControlHead, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.source = source
        for p in source.parameters():
            p.requires_grad_(False)
        self.dof, self.config, self.layout = source.dof, source.config, source.layout
        self.hidden = tuple(hidden)

    def train(self, mode: bool = True) -> SourceAdapter:
        super().train(mode)
        self.source.eval()  # frozen means eval mode as well as no gradients
        return self

    def set_normalization(self, inputs: torch.Tensor) -> None:
        """The source head's normalisation is kept: the adapter reads the same inputs."""

    def normalize(self, inputs: torch.Tensor) -> torch.Tensor:
        return (inputs - self.source.input_mean) / self.source.input_std
