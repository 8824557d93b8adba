"""ProgressiveHead: a new column beside the frozen source head, with lateral connections.

Each hidden layer of the new column reads the previous layer of both columns (Rusu et
al. 2016). The output adds the new column's and the laterals' contributions to the
source head's pre-activation; those output layers start at zero, so before training the
head is exactly the source head and only the new column's parameters can change.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .adapter import SourceAdapter, zero_linear
from .head import ControlHead, NumpyMLP, _numpy_layers


class ProgressiveHead(SourceAdapter):
    """Frozen ``source`` column plus a trainable column (``net``) with lateral links (``lateral``)."""

    kind = "progressive"

    def __init__(self, source: ControlHead, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__(source, hidden)
        source_widths = [m.out_features for m in source.net if isinstance(m, nn.Linear)][:-1]
        if len(source_widths) != len(self.hidden):
            raise ValueError(f"progressive column needs {len(source_widths)} hidden layers like its source")
        sizes = [source.layout.size, *self.hidden]
        layers: list[nn.Module] = []
        for i, width in enumerate(self.hidden):
            layers += [nn.Linear(sizes[i], width), nn.Tanh()]
        layers.append(zero_linear(sizes[-1], source.dof))
        self.net = nn.Sequential(*layers)
        # lateral[i] feeds source hidden layer i into new layer i + 1 (the last one into the output)
        targets = [*self.hidden[1:], source.dof]
        self.lateral = nn.ModuleList(
            zero_linear(w, t) if i == len(targets) - 1 else nn.Linear(w, t)
            for i, (w, t) in enumerate(zip(source_widths, targets, strict=True)))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        z = self.normalize(inputs)
        src, new = z, z
        linears = [m for m in self.source.net if isinstance(m, nn.Linear)]
        mine = [m for m in self.net if isinstance(m, nn.Linear)]
        for i, layer in enumerate(linears[:-1]):
            src_next = torch.tanh(layer(src))
            new = mine[i](new) + (self.lateral[i - 1](src) if i else 0.0)
            new, src = torch.tanh(new), src_next
        out = linears[-1](src) + mine[-1](new) + self.lateral[-1](src)
        return torch.tanh(out)

    def numpy_forward(self) -> _ProgressiveNumpy:
        return _ProgressiveNumpy(self)


class _ProgressiveNumpy:
    def __init__(self, head: ProgressiveHead) -> None:
        self.base = NumpyMLP(head.source)
        self.column = _numpy_layers(head.net)
        self.lateral = [(m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64))
                        for m in head.lateral]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        src = new = (x - self.base.mean) * self.base.scale
        for i, (weight, bias) in enumerate(self.base.layers[:-1]):
            src_next = np.tanh(src @ weight + bias)
            pre = new @ self.column[i][0] + self.column[i][1]
            if i:
                pre = pre + src @ self.lateral[i - 1][0] + self.lateral[i - 1][1]
            new, src = np.tanh(pre), src_next
        weight, bias = self.base.layers[-1]
        out = src @ weight + bias + new @ self.column[-1][0] + self.column[-1][1]
        return np.tanh(out + src @ self.lateral[-1][0] + self.lateral[-1][1])
