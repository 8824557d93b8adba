"""Behaviour of the checkpoint format: round trips, atomic overwrite, no unpickling, precise refusals."""

import dataclasses
import json
import os
import pickle
import re
from pathlib import Path

import pytest
import safetensors.torch
import torch

from simreal import assets
from simreal.envs import GRASP_ACTION_LAYOUT, Layout, grasp_layout
from simreal.policy.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    CheckpointMismatch,
    Manifest,
    check_compatible,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def manifest(panda_spec):
    return Manifest(
        kind="hierarchical_policy",
        robot=panda_spec.name,
        robot_fingerprint=panda_spec.fingerprint(),
        observation_layout=grasp_layout().blocks,
        action_layout=GRASP_ACTION_LAYOUT.blocks,
        modules={"high_level": {"type": "mlp", "sizes": [64, 64], "activation": "tanh"},
                 "head": {"type": "linear"}},
        randomization={"friction": [0.5, 1.5]},
        metrics={"success_rate": 0.875, "episodes": 40},
        seed=7,
        command=("simreal", "train", "--robot", "panda"),
        extra={"note": "test"},
    )


def make_weights(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {
        "high_level": {
            "layers.0.weight": torch.randn(64, 14, generator=gen),
            "layers.0.bias": torch.randn(64, generator=gen, dtype=torch.float64),
            "scale": torch.tensor(3.5, dtype=torch.float16),
            "steps": torch.arange(5, dtype=torch.int64),
        },
        "head": {
            # a transposed (non-contiguous) view and a bfloat16 tensor
            "weight": torch.randn(14, 4, generator=gen).t(),
            "bias": torch.randn(4, generator=gen).to(torch.bfloat16),
            "mask": torch.tensor([True, False, True]),
        },
    }


def assert_same_weights(got, want):
    assert got.keys() == want.keys()
    for module in want:
        assert got[module].keys() == want[module].keys()
        for name, tensor in want[module].items():
            assert got[module][name].dtype == tensor.dtype, (module, name)
            assert got[module][name].shape == tensor.shape, (module, name)
            assert torch.equal(got[module][name], tensor), (module, name)


class TouchOnUnpickle:
    """Unpickling this creates ``marker``: proof that a file's code was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# --- round trip and atomic writes ----------------------------------------------------------


def test_round_trip_gives_equal_manifest_and_bit_identical_tensors(tmp_path, manifest):
    weights = make_weights()
    path = save_checkpoint(tmp_path / "ckpt", manifest, weights)
    assert sorted(p.name for p in path.iterdir()) == ["head.safetensors", "high_level.safetensors", "manifest.json"]
    loaded, got = load_checkpoint(path, expected_kind="hierarchical_policy")
    assert loaded == manifest
    assert loaded.format_version == FORMAT_VERSION
    assert_same_weights(got, weights)
    assert "success_rate=0.875" in loaded.describe()


def test_saving_over_a_checkpoint_replaces_it(tmp_path, manifest):
    path = tmp_path / "ckpt"
    save_checkpoint(path, manifest, make_weights(0))
    newer = dataclasses.replace(manifest, modules={"head": {"type": "linear"}}, metrics={"success_rate": 1.0})
    save_checkpoint(path, newer, {"head": make_weights(1)["head"]})
    loaded, got = load_checkpoint(path)
    assert loaded == newer
    assert_same_weights(got, {"head": make_weights(1)["head"]})
    assert not (path / "high_level.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temp or backup directory left


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, manifest, monkeypatch):
    path = tmp_path / "ckpt"
    save_checkpoint(path, manifest, make_weights(0))
    real_save = safetensors.torch.save_file
    calls = []

    def failing_save(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    newer = dataclasses.replace(manifest, seed=8)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, newer, make_weights(1))
    assert len(calls) == 2
    loaded, got = load_checkpoint(path)
    assert loaded == manifest
    assert_same_weights(got, make_weights(0))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_failure_while_swapping_directories_restores_previous_checkpoint(tmp_path, manifest, monkeypatch):
    path = tmp_path / "ckpt"
    save_checkpoint(path, manifest, make_weights(0))
    real_rename = os.rename

    def failing_rename(src, dst):
        if Path(src).name.startswith(".ckpt.tmp-"):  # moving the new checkpoint into place
            raise OSError("rename failed")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="rename failed"):
        save_checkpoint(path, dataclasses.replace(manifest, seed=8), make_weights(1))
    loaded, got = load_checkpoint(path)
    assert loaded == manifest
    assert_same_weights(got, make_weights(0))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


@pytest.mark.parametrize("modules", [["head"], ["head", "high_level", "extra"], ["head", "low_level"]])
def test_weights_not_matching_manifest_modules_are_refused(tmp_path, manifest, modules):
    weights = make_weights()
    weights = {m: weights.get(m, weights["head"]) for m in modules}
    with pytest.raises(ValueError, match=r"manifest\.modules"):
        save_checkpoint(tmp_path / "ckpt", manifest, weights)
    assert list(tmp_path.iterdir()) == []


def test_module_names_must_be_simple_identifiers(tmp_path, manifest):
    bad = dataclasses.replace(manifest, modules={"../head": {}})
    with pytest.raises(ValueError, match="identifier"):
        save_checkpoint(tmp_path / "ckpt", bad, {"../head": {"w": torch.zeros(1)}})
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    data = json.loads((path / "manifest.json").read_text())
    data["modules"]["../head"] = data["modules"].pop("head")
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="'modules'"):
        load_checkpoint(path)


def test_refuses_to_replace_a_directory_that_is_not_a_checkpoint(tmp_path, manifest):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        save_checkpoint(tmp_path / "runs", manifest, make_weights())
    assert (tmp_path / "runs" / "notes.txt").read_text() == "keep me"


# --- no unpickling -------------------------------------------------------------------------


def test_pickle_in_place_of_weights_is_refused_unexecuted(tmp_path, manifest):
    payload = pickle.dumps(TouchOnUnpickle(tmp_path / "control"))
    pickle.loads(payload)  # the payload is live: unpickling it does run code
    assert (tmp_path / "control").exists()

    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    marker = tmp_path / "pwned"
    (path / "head.safetensors").write_bytes(pickle.dumps(TouchOnUnpickle(marker)))
    with pytest.raises(CheckpointError, match=r"head\.safetensors.*not a safetensors file"):
        load_checkpoint(path)
    assert not marker.exists()


def test_torch_save_file_in_place_of_weights_is_refused_unexecuted(tmp_path, manifest):
    torch.save(TouchOnUnpickle(tmp_path / "control"), tmp_path / "control.pt")
    torch.load(tmp_path / "control.pt", weights_only=False)  # the payload is live
    assert (tmp_path / "control").exists()

    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    marker = tmp_path / "pwned"
    torch.save({"weight": torch.zeros(3), "trap": TouchOnUnpickle(marker)}, path / "head.safetensors")
    with pytest.raises(CheckpointError, match=r"head\.safetensors.*not a safetensors file"):
        load_checkpoint(path)
    assert not marker.exists()


def test_unknown_files_are_ignored_and_never_loaded(tmp_path, manifest):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    marker = tmp_path / "pwned"
    for name in ("policy.pt", "policy.pkl", "extra.safetensors"):
        (path / name).write_bytes(pickle.dumps(TouchOnUnpickle(marker)))
    loaded, got = load_checkpoint(path)
    assert loaded == manifest
    assert got.keys() == {"head", "high_level"}
    assert not marker.exists()


def test_missing_weights_file_is_refused(tmp_path, manifest):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    (path / "high_level.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"high_level\.safetensors: missing"):
        load_checkpoint(path)


# --- manifest problems ---------------------------------------------------------------------


def edit_manifest(path, edit):
    data = json.loads((path / "manifest.json").read_text())
    edit(data)
    (path / "manifest.json").write_text(json.dumps(data))


def test_missing_directory_and_missing_manifest_are_refused(tmp_path, manifest):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    (path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=r"ckpt: no manifest\.json"):
        load_checkpoint(path)


def test_invalid_json_manifest_is_refused(tmp_path, manifest):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    (path / "manifest.json").write_text('{"kind": "control_head",')
    with pytest.raises(CheckpointError, match=r"manifest\.json: not a readable JSON file"):
        load_checkpoint(path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(learning_rate=3e-4), "key 'learning_rate' is unknown"),
    (lambda d: d.pop("robot_fingerprint"), "key 'robot_fingerprint' is missing"),
    (lambda d: d.update(seed="7"), "key 'seed' = '7': expected an integer or null"),
    (lambda d: d.update(seed=True), "key 'seed' = True"),
    (lambda d: d.update(kind=None), "key 'kind' = None"),
    (lambda d: d.update(observation_layout=[["ee_position", 0]]), "key 'observation_layout'"),
    (lambda d: d.update(action_layout=[["gripper", 1, 2]]), "key 'action_layout'"),
    (lambda d: d.update(metrics=[0.5]), "key 'metrics'"),
    (lambda d: d.update(command="simreal train"), "key 'command'"),
    (lambda d: d.update(created=""), "key 'created'"),
    (lambda d: d.pop("format_version"), "key 'format_version' is missing"),
])
def test_malformed_manifest_is_refused_naming_file_and_key(tmp_path, manifest, edit, message):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    edit_manifest(path, edit)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path / "manifest.json") in str(err.value)
    assert message in str(err.value)


def test_null_randomization_and_seed_are_valid(tmp_path, manifest):
    bare = dataclasses.replace(manifest, randomization=None, seed=None)
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "ckpt", bare, make_weights()))
    assert loaded == bare


def test_other_format_version_is_refused_naming_both_versions(tmp_path, manifest):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    edit_manifest(path, lambda d: d.update(format_version=FORMAT_VERSION + 1, new_key=1))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert f"format_version {FORMAT_VERSION + 1} is not supported" in str(err.value)
    assert f"reads format_version {FORMAT_VERSION}" in str(err.value)


def test_wrong_kind_is_refused(tmp_path, manifest):
    path = save_checkpoint(tmp_path / "ckpt", manifest, make_weights())
    with pytest.raises(CheckpointError, match="holds a 'hierarchical_policy', expected a 'control_head'"):
        load_checkpoint(path, expected_kind="control_head")


# --- compatibility -------------------------------------------------------------------------


def test_identical_setup_is_compatible(manifest, panda_spec):
    check_compatible(manifest, robot=panda_spec, observation_layout=grasp_layout(),
                     action_layout=GRASP_ACTION_LAYOUT)


def test_different_observation_layout_names_first_differing_block(manifest):
    blocks = list(grasp_layout().blocks)
    blocks[3] = ("object_position", 3)
    with pytest.raises(CheckpointMismatch) as err:
        check_compatible(manifest, observation_layout=Layout(tuple(blocks)))
    assert len(err.value.differences) == 1
    assert err.value.differences[0].startswith("observation layout:")
    assert "('object_relative_position', 3) in the checkpoint, ('object_position', 3) in the env" in str(err.value)


def test_shorter_observation_layout_names_the_missing_block(manifest):
    last = grasp_layout().blocks[-1]
    with pytest.raises(CheckpointMismatch, match=re.escape(f"checkpoint has an extra block {last}")):
        check_compatible(manifest, observation_layout=Layout(grasp_layout().blocks[:-1]))


def test_different_robot_names_both_robots(manifest):
    xarm = assets.robot_spec("xarm6")
    with pytest.raises(CheckpointMismatch) as err:
        check_compatible(manifest, robot=xarm)
    message = str(err.value)
    assert "checkpoint is for 'panda'" in message
    assert f"env uses 'xarm6' ({xarm.fingerprint()})" in message


def test_same_robot_name_with_changed_spec_is_a_mismatch(manifest, panda_spec):
    changed = dataclasses.replace(panda_spec, position_gain=panda_spec.position_gain * 2)
    with pytest.raises(CheckpointMismatch, match="same name, different spec"):
        check_compatible(manifest, robot=changed)


def test_different_action_layout_is_a_mismatch(manifest):
    with pytest.raises(CheckpointMismatch, match=r"action layout: block 0 is \('ee_displacement', 3\)"):
        check_compatible(manifest, action_layout=Layout((("joint_delta", 7), ("gripper", 1))))


def test_all_differences_are_listed_at_once(manifest):
    xarm = assets.robot_spec("xarm6")
    with pytest.raises(CheckpointMismatch) as err:
        check_compatible(manifest, robot=xarm, observation_layout=grasp_layout(),
                         action_layout=Layout((("gripper", 1),)))
    assert [d.split(":")[0] for d in err.value.differences] == ["robot", "action layout"]
    assert str(err.value).splitlines()[1:] == [f"  - {d}" for d in err.value.differences]
    restored = pickle.loads(pickle.dumps(err.value))
    assert restored.differences == err.value.differences
