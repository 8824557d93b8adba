"""Source training started from another robot's high level (cross-robot reuse)."""

import json
import shutil

import pytest
import torch

from simreal import pretrained
from simreal.learn.high_level_init import load_initial_high_level
from simreal.learn.train import train
from simreal.policy.checkpoint import CheckpointMismatch
from simreal.policy.head import HeadConfig
from simreal.policy.hierarchical import HierarchicalPolicy

from .test_training import tiny


def _weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_a_frozen_panda_high_level_drives_a_new_xarm6_head_unchanged(tmp_path):
    panda = pretrained.load("panda_grasp")
    config = tiny(tmp_path / "run", robot="xarm6", head_anchor="measured", online=False,
                  randomization="default", init_high_level="panda_grasp", high_level_reuse="frozen")
    result = train(config)
    policy, manifest = HierarchicalPolicy.load(result.checkpoint)
    assert manifest.robot == "xarm6" and policy.head.dof == 6
    assert all(torch.equal(a, b) for a, b in zip(_weights(policy.high_level), _weights(panda.high_level),
                                                  strict=True))
    init = result.metrics["high_level_init"]
    assert init["source_robot"] == "panda" and init["reuse"] == "frozen"
    assert not any(point["stage"].startswith(("dagger", "ppo")) for point in result.metrics["curve"])


def test_fine_tuning_starts_from_the_source_and_moves_away_from_it(tmp_path):
    panda = pretrained.load("panda_grasp")
    config = tiny(tmp_path / "run", robot="xarm6", head_anchor="measured", online=False,
                  randomization="default", init_high_level="panda_grasp", rl_steps=0)
    result = train(config)
    tuned = _weights(result.policy.high_level)
    assert tuned[0].shape == _weights(panda.high_level)[0].shape  # the source's architecture
    assert not all(torch.equal(a, b) for a, b in zip(tuned, _weights(panda.high_level), strict=True))


def test_a_head_with_another_action_scale_is_refused_with_the_reason():
    with pytest.raises(CheckpointMismatch, match=r"action scale: one action unit is 0\.03 m"):
        load_initial_high_level("panda_grasp", HeadConfig(max_displacement=0.05))


def test_a_high_level_reading_blocks_the_env_lacks_is_refused_naming_them(tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(pretrained.path("panda_grasp"), folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["observation_layout"][0] = ["camera_features", 3]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CheckpointMismatch, match="camera_features"):
        load_initial_high_level(str(folder), HeadConfig())


def test_the_xarm6_high_level_starts_a_panda_over_a_reference_head(tmp_path):
    """The other direction, with the full observation (commands in flight) and the predictive expert."""
    xarm = pretrained.load("xarm6_grasp")
    config = tiny(tmp_path / "run", robot="panda", online=False, init_high_level="xarm6_grasp",
                  high_level_reuse="frozen")
    result = train(config)
    assert result.policy.head.dof == 7 and result.policy.head.config.anchor == "reference"
    assert all(torch.equal(a, b) for a, b in zip(_weights(result.policy.high_level), _weights(xarm.high_level),
                                                  strict=True))
