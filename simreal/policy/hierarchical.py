"""HierarchicalPolicy: the frozen-able high level over an adaptable control head."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__, assets
from ..envs import GRASP_ACTION_LAYOUT, GraspEnv, Layout, grasp_layout
from ..robot import Robot
from ..specs import RobotSpec
from .checkpoint import CheckpointError, Manifest, check_compatible, load_checkpoint, save_checkpoint
from .head import ControlHead, HeadConfig, HeadController, head_controller
from .high_level import HighLevelConfig, HighLevelPolicy
from .latent import AdaptationModule, LatentConfig, LatentEncoder, OnlineModule
from .progressive import ProgressiveHead
from .residual import ResidualHead

ADAPTERS = (ResidualHead, ProgressiveHead)
"""Heads that wrap a frozen source column; saved as ``head`` plus ``head_<kind>``."""

KIND = "hierarchical_policy"
ONLINE_MODULES = ("online_head", "latent_encoder", "adaptation_module")
"""Saved together when a policy has online adaptation (``policy.latent``)."""
LOW_LEVELS = ("head", "online")


class HierarchicalPolicy(nn.Module):
    """High level (task obs -> command) composed with a control head (command -> joints).

    Use :meth:`freeze_high_level` before adapting: the high level then has no trainable
    parameters and stays in eval mode, whatever ``train()`` is called on the whole.

    ``online`` (optional) is the RMA-style online adaptation (``policy.latent``): a
    latent-conditioned head with its adaptation module. ``low_level`` says which low
    level drives the robot: ``"head"`` (the control head) or ``"online"`` (the online
    head, its latent estimated in the control loop).
    """

    def __init__(self, high_level: HighLevelPolicy, head: ControlHead | ResidualHead | ProgressiveHead,
                 spec: RobotSpec, observation_layout: Layout | None = None, online: OnlineModule | None = None,
                 low_level: str = "head") -> None:
        super().__init__()
        if low_level not in LOW_LEVELS or (low_level == "online" and online is None):
            raise ValueError(f"low_level must be one of {LOW_LEVELS} ('online' needs an online module), "
                             f"got {low_level!r}")
        self.high_level = high_level
        self.head = head
        self.spec = spec
        self.online = online
        self.low_level = low_level
        self.observation_layout = observation_layout or grasp_layout()
        if self.observation_layout.size != high_level.config.observation_size:
            raise ValueError(f"the high level reads {high_level.config.observation_size} values, its observation "
                             f"layout has {self.observation_layout.size}")
        env = grasp_layout()
        self._select = None if env == self.observation_layout else env.selection(self.observation_layout)
        self._high_frozen = False

    # --- acting -----------------------------------------------------------------------

    def act(self, obs: np.ndarray) -> np.ndarray:
        """High-level action for a GraspEnv observation."""
        return self.high_level.act(self.high_level_input(obs))

    def high_level_input(self, obs: np.ndarray) -> np.ndarray:
        """The high level's blocks of a GraspEnv observation, taken by name (an observation
        already in the policy's own layout is returned as it is)."""
        obs = np.asarray(obs)
        if self._select is not None and obs.shape[-1] != self.observation_layout.size:
            obs = obs[..., self._select]
        return obs

    def controller_factory(self) -> Callable[[RobotSpec, float], HeadController]:
        """For ``GraspEnv(controller=...)``: the low level in use as the env's controller."""
        if self.low_level == "online":
            return self.online.controller_factory()
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
            observation_layout=tuple(self.observation_layout.blocks), action_layout=tuple(GRASP_ACTION_LAYOUT.blocks),
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
        if self.online is not None:
            parts = (self.online.head, self.online.encoder, self.online.adaptation)
            weights.update({name: _cpu_state(part) for name, part in zip(ONLINE_MODULES, parts, strict=True)})
        return save_checkpoint(path, manifest, weights)

    def _module_descriptions(self) -> dict[str, dict]:
        modules = {"high_level": self.high_level.config.to_json(),
                   "head": {"type": "mlp", "dof": self.head.dof, **self.head.config.to_json()}}
        if isinstance(self.head, ADAPTERS):
            modules[f"head_{self.head.kind}"] = {"type": self.head.kind, "hidden": list(self.head.hidden)}
        if self.online is not None:
            online = self.online
            modules["online_head"] = {"type": "mlp", "dof": online.head.dof, **online.head.config.to_json()}
            modules["latent_encoder"] = {"type": "mlp", "dof": online.encoder.dof, **online.encoder.config.to_json()}
            modules["adaptation_module"] = {"type": "mlp", "dof": online.adaptation.dof,
                                            "in_control_loop": self.low_level == "online",
                                            **online.adaptation.config.to_json()}
        return modules

    @classmethod
    def load(cls, path: str | Path, spec: RobotSpec | None = None) -> tuple[HierarchicalPolicy, Manifest]:
        """Load and check against ``spec`` (default: the shipped spec of the manifest's
        robot) and the grasp env's layouts."""
        manifest, weights = load_checkpoint(path, expected_kind=KIND)
        spec = spec or assets.robot_spec(manifest.robot)
        check_compatible(manifest, robot=spec, observation_layout=grasp_layout(),
                         action_layout=GRASP_ACTION_LAYOUT, observation_by_name=True)
        high = HighLevelPolicy(HighLevelConfig.from_json(manifest.modules["high_level"]))
        head = _head_from(manifest.modules["head"])
        high.load_state_dict(weights["high_level"])
        head.load_state_dict(weights["head"])
        for adapter in ADAPTERS:
            if f"head_{adapter.kind}" in manifest.modules:
                head = adapter(head, tuple(manifest.modules[f"head_{adapter.kind}"]["hidden"]))
                missing, unexpected = head.load_state_dict(weights[f"head_{adapter.kind}"], strict=False)
                if unexpected or any(not k.startswith("source.") for k in missing):
                    raise CheckpointError(f"{path}: head_{adapter.kind} weights do not fit "
                                          f"(missing {missing}, unexpected {unexpected})")
        online, low_level = _load_online(path, manifest, weights)
        policy = cls(high.eval(), head.eval(), spec, Layout(tuple(manifest.observation_layout)), online, low_level)
        return policy, manifest


def _head_from(entry: dict) -> ControlHead:
    entry = dict(entry)
    dof = entry.pop("dof")
    entry.pop("type")
    return ControlHead(dof, HeadConfig.from_json(entry))


def _load_online(path: str | Path, manifest: Manifest, weights: dict) -> tuple[OnlineModule | None, str]:
    """The online module of a checkpoint, if it has one; refused, naming why, if it does not fit."""
    present = [name for name in ONLINE_MODULES if name in manifest.modules]
    if not present:
        return None, "head"
    if len(present) != len(ONLINE_MODULES):
        missing = sorted(set(ONLINE_MODULES) - set(present))
        raise CheckpointError(f"{path}: online adaptation needs {', '.join(ONLINE_MODULES)}; missing {missing}")
    entries = manifest.modules
    try:
        head = _head_from(entries["online_head"])
        encoder = LatentEncoder(int(entries["latent_encoder"]["dof"]),
                                LatentConfig.from_json(entries["latent_encoder"]))
        module = AdaptationModule(int(entries["adaptation_module"]["dof"]),
                                  LatentConfig.from_json(entries["adaptation_module"]))
        for name, part in zip(ONLINE_MODULES, (head, encoder, module), strict=True):
            part.load_state_dict(weights[name])
        online = OnlineModule(head.eval(), encoder.eval(), module.eval())
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: the online adaptation modules do not fit together ({err})") from err
    return online, "online" if entries["adaptation_module"].get("in_control_loop") else "head"


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
