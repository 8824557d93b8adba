"""ResidualHead: a small, zero-initialised correction on top of a frozen source head.

The output is ``tanh(source_pre_activation(x) + residual(x))`` on the source head's
normalised input, so before any training it is exactly the source head, and only the
residual's parameters can change.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .adapter import SourceAdapter, zero_linear
from .head import ControlHead, NumpyMLP, _numpy_layers, numpy_pre_activation


class ResidualHead(SourceAdapter):
    """Frozen ``source`` control head plus a trainable residual MLP (``net``)."""

    kind = "residual"

    def __init__(self, source: ControlHead, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__(source, hidden)
        layers: list[nn.Module] = []
        size = source.layout.size
        for width in self.hidden:
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        self.net = nn.Sequential(*layers, zero_linear(size, source.dof))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        z = self.normalize(inputs)
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
