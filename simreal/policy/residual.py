"""ResidualHead: a small, zero-initialised correction on top of a frozen source head.

The output is ``tanh(source_pre_activation(x) + residual(x))`` on the source head's
normalised input, so before any training it is exactly the source head, and only the
residual's parameters can change.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .head import ControlHead, NumpyMLP, _numpy_layers, numpy_pre_activation


class ResidualHead(nn.Module):
    """Frozen ``source`` control head plus a trainable residual MLP (``net``)."""

    kind = "residual"

    def __init__(self, source: ControlHead, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.source = source
        for p in source.parameters():
            p.requires_grad_(False)
        self.dof, self.config, self.layout = source.dof, source.config, source.layout
        self.hidden = tuple(hidden)
        layers: list[nn.Module] = []
        size = source.layout.size
        for width in self.hidden:
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        last = nn.Linear(size, source.dof)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def train(self, mode: bool = True) -> ResidualHead:
        super().train(mode)
        self.source.eval()  # frozen: eval mode as well as no gradients
        return self

    def set_normalization(self, inputs: torch.Tensor) -> None:
        """The source head's normalisation is kept (the residual reads the same inputs)."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        z = (inputs - self.source.input_mean) / self.source.input_std
        return torch.tanh(self.source.net(z) + self.net(z))

    def numpy_forward(self) -> _ResidualNumpy:
        return _ResidualNumpy(self)


class _ResidualNumpy:
    def __init__(self, head: ResidualHead) -> None:
        self.base = NumpyMLP(head.source)
        self.residual = _numpy_layers(head.net)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.base.mean) * self.base.scale
        return np.tanh(numpy_pre_activation(self.base.layers, z) + numpy_pre_activation(self.residual, z))
