"""DomainRandomizer: draws DynamicsParams from the ranges of a randomization file."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from ..specs import DynamicsParams, RandomizationSpec
from ..specs.dynamics import INTEGER_PARAMS, PER_JOINT_PARAMS


@runtime_checkable
class Randomizer(Protocol):
    """Draws one episode's dynamics from the generator it is given (the env's)."""

    def sample(self, rng: np.random.Generator) -> DynamicsParams: ...


class DomainRandomizer:
    """Samples one DynamicsParams per episode; all randomness comes from the given generator.

    ``base`` supplies the values of fields the spec leaves out (nominal by default).
    """

    def __init__(self, spec: RandomizationSpec, dof: int, base: DynamicsParams | None = None) -> None:
        spec.check_robot(dof)
        self.spec = spec
        self.dof = dof
        self.base = base or DynamicsParams()

    def sample(self, rng: np.random.Generator) -> DynamicsParams:
        values: dict[str, object] = {}
        for name, low, high in self.spec.ranges:
            if name in INTEGER_PARAMS:
                values[name] = int(rng.integers(int(low), int(high), endpoint=True))
            elif name in PER_JOINT_PARAMS:
                values[name] = tuple(float(v) for v in rng.uniform(low, high, self.dof))
            else:
                values[name] = float(rng.uniform(low, high))
        return replace(self.base, **values)
