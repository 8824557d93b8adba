"""Start source training from another policy's high level: reuse across robots.

The high level speaks task space (TCP displacement + gripper, from task observations),
so it can carry over to another arm whose control head is trained anew. What carries
over is checked, not assumed: the source's observation blocks must all be in the grasp
env's observation (taken by name), its actions must be the grasp env's, and one action
unit must mean the same TCP displacement for both heads. Anything else is refused with
the reason. The robot itself may differ: that is the point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import pretrained
from ..envs import grasp_layout
from ..envs.grasp import GRASP_ACTION_LAYOUT
from ..envs.layout import Layout
from ..policy.checkpoint import CheckpointMismatch, check_compatible, load_checkpoint
from ..policy.head import HeadConfig
from ..policy.hierarchical import KIND
from ..policy.high_level import HighLevelConfig, HighLevelPolicy


@dataclass(frozen=True)
class InitialHighLevel:
    """A high level to start from, with where it came from and what carries over."""

    policy: HighLevelPolicy
    layout: Layout
    source: str
    source_robot: str

    def describe(self) -> dict:
        return {"source": self.source, "source_robot": self.source_robot,
                "observation_blocks": [name for name, _ in self.layout.blocks],
                "hidden": list(self.policy.config.hidden),
                "carries_over": "the high level's weights (task observation -> TCP displacement + gripper)",
                "trained_anew": "the control head (joint space: this robot's joints, gains and limits)"}


def load_initial_high_level(reference: str, head_config: HeadConfig) -> InitialHighLevel:
    """The high level of a shipped policy (by name) or a checkpoint folder, checked to
    fit the grasp env and a head with ``head_config``; raises ``CheckpointMismatch``."""
    path = Path(reference) if Path(reference).is_dir() else pretrained.path(reference)
    manifest, weights = load_checkpoint(path, expected_kind=KIND)
    check_compatible(manifest, observation_layout=grasp_layout(), action_layout=GRASP_ACTION_LAYOUT,
                     observation_by_name=True)
    unit = manifest.modules["head"].get("max_displacement")
    if unit != head_config.max_displacement:
        raise CheckpointMismatch([f"action scale: one action unit is {unit} m of TCP displacement for the "
                                  f"checkpoint's head, {head_config.max_displacement} m for this head"],
                                 f"high level of '{reference}'")
    policy = HighLevelPolicy(HighLevelConfig.from_json(manifest.modules["high_level"]))
    policy.load_state_dict(weights["high_level"])
    return InitialHighLevel(policy.eval(), Layout(tuple(manifest.observation_layout)), str(reference),
                            manifest.robot)
