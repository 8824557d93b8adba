"""Small source checkpoints shipped with the package, produced by ``simreal train``.

``panda_grasp``: made by ``simreal train --run-dir runs/panda --seed 0`` and copied from
``runs/panda/final``; ``xarm6_grasp``: made by ``simreal train --robot xarm6 --run-dir
runs/xarm6 --seed 0`` and copied from ``runs/xarm6/final``. Each manifest records the seed,
command, randomization and metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loading needs torch; listing the shipped policies does not
    from ..policy.hierarchical import HierarchicalPolicy

_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.name for p in _HERE.iterdir() if (p / "manifest.json").is_file())


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
