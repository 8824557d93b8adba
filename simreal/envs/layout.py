"""Named layouts of flat observation/action vectors, so checkpoints and tools index by name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBS_BOUND = 10.0
"""Observation spaces are Box(-OBS_BOUND, OBS_BOUND): every value is in m, m/s, rad,
rad/s or action units, far inside these bounds on any arm we model."""


@dataclass(frozen=True)
class Layout:
    """An ordered list of (name, size) blocks making up a flat vector."""

    blocks: tuple[tuple[str, int], ...]

    @property
    def size(self) -> int:
        return sum(n for _, n in self.blocks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.blocks)

    def slice(self, name: str) -> slice:
        start = 0
        for block, size in self.blocks:
            if block == name:
                return slice(start, start + size)
            start += size
        raise KeyError(f"no block '{name}' in layout {self.names}")

    def get(self, vector: np.ndarray, name: str) -> np.ndarray:
        return vector[..., self.slice(name)]

    def missing(self, wanted: Layout) -> list[str]:
        """Why ``wanted``'s blocks cannot be taken from vectors of this layout (empty if they can)."""
        sizes = dict(self.blocks)
        return [f"block {block} is not in {list(self.blocks)}" if name not in sizes else
                f"block '{name}' has size {size}, not {sizes[name]}"
                for block in wanted.blocks for name, size in (block,) if sizes.get(name) != size]

    def selection(self, wanted: Layout) -> np.ndarray:
        """Indices that take ``wanted``'s blocks, in its order, out of a vector of this layout."""
        problems = self.missing(wanted)
        if problems:
            raise ValueError("; ".join(problems))
        return np.concatenate([np.arange(self.size)[self.slice(name)] for name in wanted.names])

    def to_json(self) -> list[list[object]]:
        return [[name, size] for name, size in self.blocks]
