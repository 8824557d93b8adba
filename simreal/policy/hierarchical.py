"""HierarchicalPolicy: the frozen-able high level over an adaptable control head."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__, assets
from ..envs import GRASP_ACTION_LAYOUT, GraspEnv, grasp_layout
from ..robot import Robot
from ..specs import RobotSpec
from .checkpoint import CheckpointError, Manifest, check_compatible, load_checkpoint, save_checkpoint
from .head import ControlHead, HeadConfig, HeadController, head_controller
from .high_level import HighLevelConfig, HighLevelPolicy
from .progressive import ProgressiveHead
from .residual import ResidualHead

ADAPTERS = (ResidualHead, ProgressiveHead)
"""Heads that wrap a frozen source column; saved as ``head`` plus ``head_<kind>``."""

KIND = "hierarchical_policy"


class HierarchicalPolicy(nn.Module):
    """High level (task obs -> command) composed with a control head (command -> joints).

    Use :meth:`freeze_high_level` before adapting: the high level then has no trainable
    parameters and stays in eval mode, whatever ``train()`` is called on the whole.
    """

    def __init__(self, high_level: HighLevelPolicy, head: ControlHead | ResidualHead | ProgressiveHead,
                 spec: RobotSpec) -> None:
        super().__init__()
        self.high_level = high_level
        self.head = head
        self.spec = spec
        self._high_frozen = False

    # --- acting -----------------------------------------------------------------------

    def act(self, obs: np.ndarray) -> np.ndarray:
        """High-level action for a GraspEnv observation."""
        return self.high_level.act(obs)

    def controller_factory(self) -> Callable[[RobotSpec, float], HeadController]:
        """For ``GraspEnv(controller=...)``: the head as the env's low-level controller."""
        return head_controller(self.head)

    def make_env(self, robot: str | Robot | None = None, **kwargs: object) -> GraspEnv:
        """A GraspEnv on ``robot`` (default: this policy's robot) driven through the head."""
        return GraspEnv(robot=robot or self.spec.name, controller=self.controller_factory(), **kwargs)

    # --- freezing ---------------------------------------------------------------------

    def freeze_high_level(self) -> None:
        for p in self.high_level.parameters():
            p.requires_grad_(False)
        self.high_level.eval()
        self._high_frozen = True

    def train(self, mode: bool = True) -> HierarchicalPolicy:
        super().train(mode)
        if self._high_frozen:
            self.high_level.eval()  # frozen means eval mode too, not only requires_grad=False
        return self

    def trainable_parameters(self) -> dict[str, int]:
        """Number of trainable parameters per part."""
        return {name: sum(p.numel() for p in part.parameters() if p.requires_grad)
                for name, part in (("high_level", self.high_level), ("head", self.head))}

    # --- checkpoints ------------------------------------------------------------------

    def save(self, path: str | Path, *, metrics: dict, seed: int | None, command: list[str],
             randomization: dict | None = None, extra: dict | None = None) -> Path:
        manifest = Manifest(
            kind=KIND, robot=self.spec.name, robot_fingerprint=self.spec.fingerprint(),
            observation_layout=tuple(grasp_layout().blocks), action_layout=tuple(GRASP_ACTION_LAYOUT.blocks),
            modules=self._module_descriptions(),
            randomization=randomization, metrics=metrics, seed=seed, command=tuple(command),
            package_version=__version__, extra=extra or {},
        )
        weights = {"high_level": _cpu_state(self.high_level)}
        if isinstance(self.head, ADAPTERS):
            # an adapted head is stored as its source column plus the adapter's own tensors
            weights["head"] = _cpu_state(self.head.source)
            weights[f"head_{self.head.kind}"] = {k: v for k, v in _cpu_state(self.head).items()
                                                 if not k.startswith("source.")}
        else:
            weights["head"] = _cpu_state(self.head)
        return save_checkpoint(path, manifest, weights)

    def _module_descriptions(self) -> dict[str, dict]:
        modules = {"high_level": self.high_level.config.to_json(),
                   "head": {"type": "mlp", "dof": self.head.dof, **self.head.config.to_json()}}
        if isinstance(self.head, ADAPTERS):
            modules[f"head_{self.head.kind}"] = {"type": self.head.kind, "hidden": list(self.head.hidden)}
        return modules

    @classmethod
    def load(cls, path: str | Path, spec: RobotSpec | None = None) -> tuple[HierarchicalPolicy, Manifest]:
        """Load and check against ``spec`` (default: the shipped spec of the manifest's
        robot) and the grasp env's layouts."""
        manifest, weights = load_checkpoint(path, expected_kind=KIND)
        spec = spec or assets.robot_spec(manifest.robot)
        check_compatible(manifest, robot=spec, observation_layout=grasp_layout(),
                         action_layout=GRASP_ACTION_LAYOUT)
        high = HighLevelPolicy(HighLevelConfig.from_json(manifest.modules["high_level"]))
        head_json = dict(manifest.modules["head"])
        dof = head_json.pop("dof")
        head_json.pop("type")
        head = ControlHead(dof, HeadConfig.from_json(head_json))
        high.load_state_dict(weights["high_level"])
        head.load_state_dict(weights["head"])
        for adapter in ADAPTERS:
            if f"head_{adapter.kind}" in manifest.modules:
                head = adapter(head, tuple(manifest.modules[f"head_{adapter.kind}"]["hidden"]))
                missing, unexpected = head.load_state_dict(weights[f"head_{adapter.kind}"], strict=False)
                if unexpected or any(not k.startswith("source.") for k in missing):
                    raise CheckpointError(f"{path}: head_{adapter.kind} weights do not fit "
                                          f"(missing {missing}, unexpected {unexpected})")
        policy = cls(high.eval(), head.eval(), spec)
        return policy, manifest


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
