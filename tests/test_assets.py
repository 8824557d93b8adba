"""Finding shipped specs by name or path, resolving URDFs, and the assets in a built wheel."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pybullet_data
import pytest

from simreal import assets
from simreal.specs import load_robot

REPO = Path(__file__).resolve().parent.parent
KINDS = ("robot", "scene", "target", "randomization")
FOLDERS = {"robot": "robots", "scene": "scenes", "target": "calibration/targets",
           "randomization": "calibration/randomization"}


@pytest.fixture
def panda_copy(tmp_path):
    path = tmp_path / "my_robot.yaml"
    shutil.copyfile(assets.find("robot", "panda"), path)
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_find_by_name(kind):
    for name in assets.available(kind):
        path = assets.find(kind, name)
        assert path == assets.asset_root() / FOLDERS[kind] / f"{name}.yaml"
        assert path.is_file()


def test_checkout_asset_root_is_repo():
    assert assets.asset_root() == REPO


def test_find_by_explicit_path(panda_copy):
    assert assets.find("robot", panda_copy) == panda_copy
    assert assets.find("robot", str(panda_copy)) == panda_copy
    assert assets.robot_spec(panda_copy).source == str(panda_copy)


def test_find_existing_file_without_yaml_suffix(panda_copy):
    other = panda_copy.with_suffix(".spec")
    panda_copy.rename(other)
    assert assets.find("robot", other) == other


@pytest.mark.parametrize("kind", KINDS)
def test_find_unknown_name_lists_available(kind):
    with pytest.raises(FileNotFoundError) as info:
        assets.find(kind, "no_such_thing")
    message = str(info.value)
    assert "'no_such_thing'" in message
    for name in assets.available(kind):
        assert name in message


def test_find_missing_yaml_path(tmp_path):
    missing = tmp_path / "nowhere" / "ghost.yaml"
    with pytest.raises(FileNotFoundError) as info:
        assets.find("robot", missing)
    assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError):
        assets.robot_spec(missing)


@pytest.mark.parametrize("name", assets.available("robot"))
def test_urdf_path_pybullet_data(name):
    spec = assets.robot_spec(name)
    assert spec.urdf.startswith("pybullet_data://")
    path = assets.urdf_path(spec)
    assert path.is_file()
    assert path == Path(pybullet_data.getDataPath()) / spec.urdf.removeprefix("pybullet_data://")


def test_urdf_path_relative_to_yaml(tmp_path, monkeypatch):
    (tmp_path / "robots").mkdir()
    (tmp_path / "urdf").mkdir()
    urdf = tmp_path / "urdf" / "arm.urdf"
    urdf.write_text("<robot name='arm'/>", encoding="utf-8")
    text = assets.find("robot", "panda").read_text(encoding="utf-8")
    text = text.replace("pybullet_data://franka_panda/panda.urdf", "../urdf/arm.urdf")
    yaml_path = tmp_path / "robots" / "arm.yaml"
    yaml_path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "urdf")  # resolution must not depend on the cwd
    spec = load_robot(yaml_path)
    assert spec.urdf == "../urdf/arm.urdf"
    assert assets.urdf_path(spec) == urdf.resolve()


WHEEL_CHECK = """
import json, sys
from pathlib import Path
import simreal
from simreal import assets
site = Path(sys.argv[1]).resolve()
assert Path(simreal.__file__).resolve().is_relative_to(site), simreal.__file__
assert assets.asset_root().name == "_assets", assets.asset_root()
assert assets.asset_root().resolve().is_relative_to(site), assets.asset_root()
assets.robot_spec("panda")
assets.scene_spec("tabletop")
assets.randomization_spec("default")
targets = [assets.target_profile(name) for name in assets.available("target")]
print(json.dumps({
    "available": {kind: assets.available(kind) for kind in sys.argv[2:]},
    "targets": [t.name for t in targets],
}))
"""


def test_installed_wheel_ships_assets(tmp_path):
    dist, site, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", ".", "--no-deps", "-w", str(dist)], cwd=REPO, check=True)
    (wheel,) = dist.glob("simreal-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", WHEEL_CHECK, str(site), *KINDS], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["available"] == {kind: assets.available(kind) for kind in KINDS}
    assert report["targets"] == assets.available("target")
