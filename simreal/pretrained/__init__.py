"""Small source checkpoints shipped with the package, produced by ``simreal train``.

``panda_grasp``: made by ``simreal train --run-dir runs/panda --seed 0`` (the first
pipeline: a measured-anchored head over differential IK, no delay randomization) and copied
from ``runs/panda/final``; ``panda_grasp_latency``: made by today's defaults, ``simreal train
--run-dir runs/panda_latency --seed 0`` (delay-randomized, a reference-anchored low level,
with RMA-style online adaptation), copied from ``runs/panda_latency/final``; ``xarm6_grasp``:
made by ``simreal train --robot xarm6 --run-dir runs/xarm6 --seed 0`` and copied from
``runs/xarm6/final``. Each manifest records the seed, command, randomization and metrics.
``panda_grasp`` stays the default: the latency-robust policy is better on every shipped
target but one (docs/latency_and_online.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loading needs torch; listing the shipped policies does not
    from ..policy.hierarchical import HierarchicalPolicy

_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.name for p in _HERE.iterdir() if (p / "manifest.json").is_file())


def with_online_adaptation(robot: str) -> list[str]:
    """Shipped policies for ``robot`` that carry an online adaptation module."""
    import json

    manifests = {name: json.loads((_HERE / name / "manifest.json").read_text()) for name in available()}
    return [name for name, m in manifests.items() if m.get("robot") == robot and "adaptation_module" in m["modules"]]


def path(name: str = "panda_grasp") -> Path:
    folder = _HERE / name
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(f"no pretrained policy '{name}' (available: {', '.join(available()) or 'none'})")
    return folder


def load(name: str = "panda_grasp") -> HierarchicalPolicy:
    """Load a shipped policy, checked against its robot's shipped spec."""
    from ..policy.hierarchical import HierarchicalPolicy

    policy, _ = HierarchicalPolicy.load(path(name))
    return policy
