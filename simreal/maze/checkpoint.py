"""Maze agents in the project's checkpoint format (manifest.json + safetensors; never SB3's pickled zip).

A maze checkpoint holds two modules, ``features`` (the CNN feature layers) and ``q_head`` (the
MLP from features to one value per action). Its manifest names the layout it was trained on
(in the ``robot`` fields: the layout's name and fingerprint), the observation channels and
image shape, and the actions; :func:`check_fits` refuses a layout the weights cannot read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..envs.layout import Layout
from ..policy.checkpoint import CheckpointError, CheckpointMismatch, Manifest, check_compatible, load_checkpoint
from ..policy.checkpoint import save_checkpoint as _save
from ..specs.maze import MazeSpec
from .agent import MazeDQN
from .options import DQNOptions
from .env import observation_channels, observation_shape

KIND = "maze_dqn"


def observation_layout(spec: MazeSpec) -> Layout:
    """One block per observation channel, each ``height * width`` values."""
    _, height, width = observation_shape(spec)
    return Layout(tuple((name, height * width) for name in observation_channels(spec)))


def action_layout(spec: MazeSpec) -> Layout:
    return Layout(tuple((name, 1) for name in spec.actions))


@dataclass(frozen=True)
class MazeWeights:
    """A loaded maze checkpoint: its manifest and the two modules' tensors."""

    manifest: Manifest
    features: dict[str, torch.Tensor]
    q_head: dict[str, torch.Tensor]

    @property
    def architecture(self) -> dict:
        return self.manifest.modules["features"]

    @property
    def options(self) -> DQNOptions:
        return DQNOptions(**self.manifest.extra["dqn"])


def save_agent(path: str | Path, model: MazeDQN, spec: MazeSpec, options: DQNOptions, *, metrics: dict,
               seed: int | None, command: tuple[str, ...] = ()) -> Path:
    """Write ``model``'s Q-network (not its replay buffer or optimizer) as a maze checkpoint."""
    q_net = model.q_net
    manifest = Manifest(
        kind=KIND, robot=spec.name, robot_fingerprint=spec.fingerprint(),
        observation_layout=observation_layout(spec).blocks, action_layout=action_layout(spec).blocks,
        modules={"features": q_net.features_extractor.architecture(),
                 "q_head": {"type": "mlp", "hidden": list(q_net.net_arch), "actions": len(spec.actions)}},
        randomization=None, metrics=metrics, seed=seed, command=tuple(command),
        extra={"observation_shape": list(observation_shape(spec)), "view": spec.view, "dqn": asdict(options)})
    weights = {"features": q_net.features_extractor.state_dict(), "q_head": q_net.q_net.state_dict()}
    return _save(path, manifest, weights)


def load_agent(path: str | Path) -> MazeWeights:
    """Read a maze checkpoint (weights on the CPU)."""
    manifest, weights = load_checkpoint(path, expected_kind=KIND)
    for key in ("observation_shape", "dqn"):
        if key not in manifest.extra:
            raise CheckpointError(f"{path}: manifest.extra has no '{key}'; not a maze checkpoint of this version")
    return MazeWeights(manifest, weights["features"], weights["q_head"])


def check_fits(weights: MazeWeights, spec: MazeSpec, *, actions: bool = True) -> None:
    """Raise :class:`CheckpointMismatch` naming why the weights cannot run on the layout ``spec``.

    The feature layers read images of one shape and channel order; the Q-head (checked when
    ``actions``) has one output per action, in order.
    """
    manifest = weights.manifest
    ours, theirs = tuple(manifest.extra["observation_shape"]), observation_shape(spec)
    subject = f"maze checkpoint trained on '{manifest.robot}'"
    if ours != theirs:
        raise CheckpointMismatch([
            f"observation shape: the checkpoint's feature layers read (channels, height, width) = {ours}, layout "
            f"'{spec.name}' gives {theirs} ({spec.view} view"
            + (f" of {spec.view_size} x {spec.view_size} cells)" if spec.view == "egocentric" else
               f" of a {spec.width} x {spec.height} map)")], subject)
    try:
        check_compatible(manifest, observation_layout=observation_layout(spec),
                         action_layout=action_layout(spec) if actions else None)
    except CheckpointMismatch as err:
        raise CheckpointMismatch(err.differences, subject) from None


__all__ = ["KIND", "MazeWeights", "action_layout", "check_fits", "load_agent", "observation_layout", "save_agent"]
