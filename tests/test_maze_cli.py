import pytest

from simreal.cli import main
from simreal.maze.agent import build_dqn
from simreal.maze.checkpoint import save_agent
from simreal.maze.options import DQNOptions
from simreal.specs.maze import maze_from_mapping

MAP = ["#####", "#S.G#", "#####"]


def _layout(tmp_path, name, **fields):
    rows = "\n".join(f'  - "{r}"' for r in MAP)
    extra = "".join(f"{k}: {v}\n" for k, v in fields.items())
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nmax_steps: 10\n{extra}map:\n{rows}\n")
    return path


@pytest.fixture
def checkpoint(tmp_path):
    spec = maze_from_mapping({"name": "s", "max_steps": 10, "map": MAP, "view_size": 5}, "s.yaml")
    options = DQNOptions(channels="4", features_dim=8, head="")
    return save_agent(tmp_path / "source", build_dqn(spec, options, 0), spec, options, metrics={}, seed=0)


def test_transfer_to_a_different_observation_shape_exits_2_with_the_reason(tmp_path, checkpoint, capsys):
    target = _layout(tmp_path, "small_view", view_size=3)
    code = main(["maze", "transfer", "--source", str(checkpoint), "--to", str(target), "--out-dir",
                 str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 2 and "observation shape" in out and "(6, 5, 5)" in out and "(6, 3, 3)" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    ["maze", "transfer", "--mode", "scratch"],
    ["maze", "transfer", "--mode", "sideways"],
    ["bench", "maze", "--modes", "frozen,sideways"],
])
def test_bad_modes_exit_2(argv, checkpoint, capsys):
    assert main([*argv, *(["--source", str(checkpoint)] if argv[0] == "maze" else [])]) == 2
    assert "expected" in capsys.readouterr().out


def test_a_bad_layout_file_exits_2_naming_the_field(tmp_path, capsys):
    bad = _layout(tmp_path, "bad", view="sideways")
    assert main(["maze", "train", "--layout", str(bad), "--steps", "10"]) == 2
    out = capsys.readouterr().out
    assert "bad.yaml" in out and "view" in out


def test_a_missing_checkpoint_exits_2(tmp_path, capsys):
    assert main(["maze", "transfer", "--source", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().out
