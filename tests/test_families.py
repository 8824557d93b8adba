"""Target families: validated specs, seeded sampling, profiles that load back exactly."""

import numpy as np
import pytest

from simreal import assets
from simreal.cli import main
from simreal.families import sample_dynamics, sample_profiles, write_family
from simreal.specs import DynamicsParams, SpecError, load_target
from simreal.specs.family import family_from_mapping

PANDA = assets.robot_spec("panda")


def test_written_profiles_load_back_as_sampled_and_seed_fixes_them(tmp_path):
    paths = write_family("wide", "panda", 12, 3, tmp_path / "a")
    loaded = [load_target(p) for p in paths]
    sampled = sample_profiles(assets.family_spec("wide"), PANDA, 12, 3)
    assert [p.dynamics for p in loaded] == [p.dynamics for p in sampled]
    again = write_family("wide", "panda", 5, 3, tmp_path / "b")  # a smaller family keeps its first members
    assert [p.read_text() for p in again] == [p.read_text() for p in paths[:5]]
    other = sample_profiles(assets.family_spec("wide"), PANDA, 12, 4)
    assert [p.dynamics for p in other] != [p.dynamics for p in sampled]


def test_every_field_is_drawn_within_its_range_and_sometimes_nominal():
    family = assets.family_spec("wide")
    draws = {d.name: d for d in family.fields}
    nominal = DynamicsParams()
    rng = np.random.default_rng(0)
    moved = dict.fromkeys(draws, 0)
    for _ in range(300):
        d = sample_dynamics(family, PANDA.dof, rng)
        for name, draw in draws.items():
            value = getattr(d, name)
            if value == getattr(nominal, name):
                continue
            moved[name] += 1
            if isinstance(value, tuple):  # per joint: each joint nominal or drawn, at least one drawn
                rest = 1.0 if name == "joint_gain_scale" else 0.0
                drawn = [v for v in value if v != rest]
                assert drawn and all(draw.low <= v <= draw.high for v in drawn), (name, value)
            else:
                assert draw.low <= value <= draw.high, (name, value)
    for name, draw in draws.items():  # each field moves about p of the time (binomial, 300 draws)
        assert abs(moved[name] / 300 - draw.p) < 0.1, name


@pytest.mark.parametrize("field, value, expected", [
    ("p", 1.5, "a number <= 1.0"),
    ("range", [0.5], "[low, high]"),
    ("range", [2.0, 1.0], "low <= high"),
    ("range", [0.0, 1.0], "a number >= 0.01"),
    ("scale", "cubic", "one of"),
    ("colour", "red", "no such field"),
])
def test_a_bad_family_names_the_field(field, value, expected):
    entry = {"p": 0.5, "range": [0.5, 1.5], "scale": "log", field: value}
    data = {"name": "x", "description": "y", "fields": {"actuator_gain": entry}}
    with pytest.raises(SpecError, match=expected) as error:
        family_from_mapping(data, "my_family.yaml")
    assert "my_family.yaml" in str(error.value) and "fields.actuator_gain" in str(error.value)


def test_unknown_dynamics_field_in_a_family_is_an_error():
    data = {"name": "x", "description": "y", "fields": {"gravity": {"p": 0.5, "range": [1, 2]}}}
    with pytest.raises(SpecError, match=r"fields\.gravity"):
        family_from_mapping(data, "f.yaml")


def test_cli_samples_a_family(tmp_path, capsys):
    assert main(["targets", "sample", "--n", "3", "--seed", "1", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("wide_1_*.yaml"))) == 3
    assert main(["targets", "sample", "--n", "0", "--out", str(tmp_path / "none")]) == 2
