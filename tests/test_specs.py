"""Behaviour of the YAML spec loaders: shipped files load, malformed files fail precisely."""

import math

import numpy as np
import pytest
import yaml

from simreal import assets
from simreal.sim import SimRobot
from simreal.specs import (
    SpecError,
    load_randomization,
    load_robot,
    load_scene,
    load_target,
    param_info,
)

LOADERS = {
    "robot": load_robot,
    "scene": load_scene,
    "target": load_target,
    "randomization": load_randomization,
}
SHIPPED = [(kind, name) for kind in LOADERS for name in assets.available(kind)]
DELETE = object()


def shipped_data(kind, name):
    """A shipped YAML file as a plain, mutable dict."""
    return yaml.safe_load(assets.find(kind, name).read_text(encoding="utf-8"))


def first(kind):
    return assets.available(kind)[0]


def set_field(data, dotted, value):
    """Set (or delete with DELETE) ``a.b.0.c`` in nested dicts/lists."""
    *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    for key in parents:
        data = data[key]
    if value is DELETE:
        del data[last]
    else:
        data[last] = value


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.fixture
def write_yaml(tmp_path):
    def write(data, name="spec.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_broken(write_yaml):
    """Write ``data`` and load it as ``kind``; return (SpecError, path)."""

    def load(kind, data):
        path = write_yaml(data)
        with pytest.raises(SpecError) as info:
            LOADERS[kind](path)
        return info.value, path

    return load


def check_error(err, source, field, value, expected):
    assert err.source == str(source)
    assert err.field == field
    assert same(err.value, value), (err.value, value)
    assert expected in err.expected
    message = str(err)
    assert str(source) in message
    assert f"'{field}'" in message
    assert repr(err.value)[:60] in message
    assert message.endswith(f"expected {err.expected}")


# --- shipped files ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LOADERS))
def test_every_kind_ships_files(kind):
    assert assets.available(kind)


@pytest.mark.parametrize(("kind", "name"), SHIPPED, ids=[f"{k}-{n}" for k, n in SHIPPED])
def test_shipped_file_loads(kind, name):
    spec = getattr(assets, {"robot": "robot_spec", "scene": "scene_spec", "target": "target_profile",
                            "randomization": "randomization_spec"}[kind])(name)
    assert spec.name == name
    assert spec.source == str(assets.find(kind, name))


@pytest.mark.parametrize("name", assets.available("target"))
def test_shipped_target_fits_its_robot(name):
    profile = assets.target_profile(name)
    robot = assets.robot_spec(profile.robot)
    profile.check_robot(robot.name, robot.dof)


def test_shipped_randomization_ranges_match_yaml():
    name = first("randomization")
    ranges = shipped_data("randomization", name)["ranges"]
    spec = assets.randomization_spec(name)
    assert {key: spec.range_of(key) for key in ranges} == {k: tuple(v) for k, v in ranges.items()}
    assert spec.range_of("no_such_field") is None


@pytest.mark.parametrize("name", assets.available("robot"))
def test_shipped_robot_builds_in_sim(name):
    robot = SimRobot(assets.robot_spec(name), assets.scene_spec(first("scene")))
    try:
        state = robot.reset(seed=0)
        assert state.joint_positions == pytest.approx(np.array(robot.spec.home), abs=1e-9)
        assert state.gripper_width == pytest.approx(robot.spec.gripper.max_width, abs=1e-6)
    finally:
        robot.close()


# --- robot errors ----------------------------------------------------------------------


def drop_ee_link(d):
    set_field(d, "ee_link", DELETE)
    return "ee_link", None, "required"


def drop_joint_velocity(d):
    set_field(d, "arm_joints.0.velocity", DELETE)
    return "arm_joints[0].velocity", None, "required"


def unknown_top_key(d):
    set_field(d, "colour", "red")
    return "colour", "red", "no such field"


def unknown_gains_key(d):
    set_field(d, "gains.extra", 1.5)
    return "gains.extra", 1.5, "no such field"


def unknown_joint_key(d):
    set_field(d, "arm_joints.1.stiffness", 3.0)
    return "arm_joints[1].stiffness", 3.0, "no such field"


def string_gain(d):
    set_field(d, "gains.position", "high")
    return "gains.position", "high", "a finite number"


def string_joint_force(d):
    set_field(d, "arm_joints.2.force", "strong")
    return "arm_joints[2].force", "strong", "a finite number"


def infinite_velocity(d):
    set_field(d, "arm_joints.0.velocity", math.inf)
    return "arm_joints[0].velocity", math.inf, "a finite number"


def nan_max_width(d):
    set_field(d, "gripper.max_width", math.nan)
    return "gripper.max_width", math.nan, "a finite number"


def lower_equals_upper(d):
    upper = d["arm_joints"][1]["upper"]
    set_field(d, "arm_joints.1.lower", upper)
    return "arm_joints[1].upper", upper, "above lower"


def lower_above_upper(d):
    joint = d["arm_joints"][0]
    joint["lower"], joint["upper"] = joint["upper"], joint["lower"]
    return "arm_joints[0].upper", joint["upper"], "above lower"


def home_above_limit(d):
    joint = d["arm_joints"][-1]
    d["home"][-1] = joint["upper"] + 0.5
    return "home", tuple(d["home"]), f"{joint['name']} within"


def home_short(d):
    d["home"] = d["home"][:-1]
    return "home", d["home"], f"a list of {len(d['arm_joints'])} numbers"


def tcp_offset_short(d):
    d["tcp_offset"] = [0.0, 0.0]
    return "tcp_offset", [0.0, 0.0], "a list of 3 numbers"


def grasp_not_unit(d):
    d["grasp_orientation"] = [1.0, 1.0, 0.0, 0.0]
    return "grasp_orientation", (1.0, 1.0, 0.0, 0.0), "unit quaternion"


ROBOT_CASES = [
    drop_ee_link, drop_joint_velocity, unknown_top_key, unknown_gains_key, unknown_joint_key,
    string_gain, string_joint_force, infinite_velocity, nan_max_width, lower_equals_upper,
    lower_above_upper, home_above_limit, home_short, tcp_offset_short, grasp_not_unit,
]


@pytest.mark.parametrize("name", assets.available("robot"))
@pytest.mark.parametrize("case", ROBOT_CASES, ids=lambda c: c.__name__)
def test_malformed_robot(load_broken, case, name):
    data = shipped_data("robot", name)
    field, value, expected = case(data)
    err, path = load_broken("robot", data)
    check_error(err, path, field, value, expected)


# --- scene errors ----------------------------------------------------------------------


def no_objects(d):
    d["objects"] = []
    return "objects", [], "at least one object"


def unknown_shape(d):
    set_field(d, "objects.0.shape", "cone")
    return "objects[0].shape", "cone", "one of 'box', 'cylinder', 'sphere'"


def drop_timestep(d):
    set_field(d, "physics.timestep", DELETE)
    return "physics.timestep", None, "required"


def unknown_table_key(d):
    set_field(d, "table.legs", 4)
    return "table.legs", 4, "no such field"


def string_object_mass(d):
    set_field(d, "objects.0.mass", "heavy")
    return "objects[0].mass", "heavy", "a finite number"


SCENE_CASES = [no_objects, unknown_shape, drop_timestep, unknown_table_key, string_object_mass]


@pytest.mark.parametrize("case", SCENE_CASES, ids=lambda c: c.__name__)
def test_malformed_scene(load_broken, case):
    data = shipped_data("scene", first("scene"))
    field, value, expected = case(data)
    err, path = load_broken("scene", data)
    check_error(err, path, field, value, expected)


# --- randomization and target errors ---------------------------------------------------


def test_randomization_low_above_high(load_broken):
    data = shipped_data("randomization", first("randomization"))
    info = param_info("actuator_gain")
    data["ranges"]["actuator_gain"] = [info["high"], info["low"]]
    err, path = load_broken("randomization", data)
    check_error(err, path, "ranges.actuator_gain", [info["high"], info["low"]], "low <= high")


def test_randomization_value_out_of_bounds(load_broken):
    data = shipped_data("randomization", first("randomization"))
    info = param_info("object_size_scale")
    data["ranges"]["object_size_scale"] = [info["low"], info["high"] + 1.0]
    err, path = load_broken("randomization", data)
    check_error(err, path, "ranges.object_size_scale", [info["low"], info["high"] + 1.0],
                f"a value in [{info['low']}, {info['high']}]")


def test_randomization_unknown_field(load_broken):
    data = shipped_data("randomization", first("randomization"))
    data["ranges"]["gravity_scale"] = [0.9, 1.1]
    err, path = load_broken("randomization", data)
    check_error(err, path, "ranges.gravity_scale", [0.9, 1.1], "no such field")


def test_randomization_per_joint_pairs(load_broken, write_yaml):
    data = shipped_data("randomization", first("randomization"))
    pairs = [[0.09, 0.11]] * 4 + [[0.9, 1.1]] * 3
    data["ranges"]["joint_gain_scale"] = pairs
    spec = load_randomization(write_yaml(data))
    assert spec.range_of("joint_gain_scale") == ((0.09,) * 4 + (0.9,) * 3, (0.11,) * 4 + (1.1,) * 3)
    spec.check_robot(7)
    with pytest.raises(SpecError, match="= 7: expected 6 \\[low, high\\] pairs"):
        spec.check_robot(6)
    data["ranges"]["joint_gain_scale"] = [[0.09, 0.11], [0.2, 0.1]]  # one pair inverted
    err, path = load_broken("randomization", data)
    check_error(err, path, "ranges.joint_gain_scale", data["ranges"]["joint_gain_scale"], "low <= high")
    data["ranges"]["actuator_gain"] = [[0.9, 1.1]]  # pairs only for per-joint fields
    data["ranges"]["joint_gain_scale"] = [0.5, 1.0]
    err, path = load_broken("randomization", data)
    check_error(err, path, "ranges.actuator_gain", [[0.9, 1.1]], "[low, high]")


def test_target_unknown_dynamics_field(load_broken):
    data = shipped_data("target", first("target"))
    data["dynamics"]["motor_temperature"] = 80.0
    err, path = load_broken("target", data)
    check_error(err, path, "dynamics.motor_temperature", 80.0, "no such field")


def test_target_dynamics_value_out_of_bounds(load_broken):
    data = shipped_data("target", first("target"))
    high = param_info("latency_steps")["high"]
    data["dynamics"]["latency_steps"] = high + 1
    err, path = load_broken("target", data)
    check_error(err, path, "dynamics.latency_steps", high + 1, "a value in")


@pytest.mark.parametrize("field", ["joint_offset", "joint_gain_scale"])
def test_target_per_joint_field_wrong_length(write_yaml, field):
    data = shipped_data("target", first("target"))
    robot = assets.robot_spec(data["robot"])
    data["dynamics"][field] = [0.01] * (robot.dof - 1)
    path = write_yaml(data)
    profile = load_target(path)
    with pytest.raises(SpecError) as info:
        profile.check_robot(robot.name, robot.dof)
    check_error(info.value, path, f"dynamics.{field}", [0.01] * (robot.dof - 1), f"{robot.dof} values")


def test_target_for_another_robot(write_yaml):
    data = shipped_data("target", first("target"))
    robot = assets.robot_spec(data["robot"])
    data["robot"] = "some_other_arm"
    path = write_yaml(data)
    with pytest.raises(SpecError) as info:
        load_target(path).check_robot(robot.name, robot.dof)
    check_error(info.value, path, "robot", "some_other_arm", f"'{robot.name}'")


# --- file-level errors -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LOADERS))
def test_yaml_syntax_error(tmp_path, kind):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nrobot: {\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        LOADERS[kind](path)
    check_error(info.value, path, "<file>", None, "valid YAML")


@pytest.mark.parametrize("kind", list(LOADERS))
def test_missing_file(tmp_path, kind):
    path = tmp_path / "does_not_exist.yaml"
    with pytest.raises(SpecError) as info:
        LOADERS[kind](path)
    check_error(info.value, path, "<file>", None, "a readable file")


def test_non_mapping_root(write_yaml):
    path = write_yaml([1, 2, 3])
    with pytest.raises(SpecError) as info:
        load_robot(path)
    check_error(info.value, path, "<root>", [1, 2, 3], "a mapping")


# --- URDF cross-check ------------------------------------------------------------------


def test_joint_missing_from_urdf(write_yaml):
    data = shipped_data("robot", "panda")
    assert data["urdf"] == "pybullet_data://franka_panda/panda.urdf"
    set_field(data, "arm_joints.2.name", "no_such_joint")
    path = write_yaml(data)
    spec = load_robot(path)
    with pytest.raises(SpecError) as info:
        SimRobot(spec, assets.scene_spec(first("scene")))
    check_error(info.value, path, "arm_joints[2].name", "no_such_joint", "a name in")


def test_copied_robot_builds_in_sim(write_yaml):
    spec = load_robot(write_yaml(shipped_data("robot", "panda")))
    robot = SimRobot(spec, assets.scene_spec(first("scene")))
    try:
        assert robot.spec.source == spec.source
        assert robot.reset(seed=1).joint_positions.shape == (spec.dof,)
    finally:
        robot.close()


# --- gripper and fingerprint -----------------------------------------------------------


@pytest.fixture(params=assets.available("robot"))
def gripper(request):
    return assets.robot_spec(request.param).gripper


def test_gripper_width_round_trip(gripper):
    for width in np.linspace(0.0, gripper.max_width, 9):
        assert gripper.width(gripper.drive_value(width)) == pytest.approx(width, abs=1e-12)
    assert gripper.drive_value(gripper.max_width) == pytest.approx(gripper.open_position)
    assert gripper.drive_value(0.0) == pytest.approx(gripper.closed_position)
    assert gripper.width(gripper.open_position) == pytest.approx(gripper.max_width)


def test_gripper_drive_value_clips(gripper):
    assert gripper.drive_value(-1.0) == pytest.approx(gripper.closed_position)
    assert gripper.drive_value(gripper.max_width * 3) == pytest.approx(gripper.open_position)


@pytest.fixture
def panda_copy(tmp_path):
    data = shipped_data("robot", "panda")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sub in ("a", "b"):
        (tmp_path / sub / "panda.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return data, tmp_path


def test_fingerprint_ignores_location(panda_copy):
    _, root = panda_copy
    a, b = load_robot(root / "a" / "panda.yaml"), load_robot(root / "b" / "panda.yaml")
    assert a.source != b.source
    assert a.fingerprint() == b.fingerprint() == assets.robot_spec("panda").fingerprint()
    assert len(a.fingerprint()) == 16


def test_fingerprint_changes_with_limit(panda_copy, write_yaml):
    data, root = panda_copy
    data["arm_joints"][0]["upper"] -= 0.01
    changed = load_robot(write_yaml(data, "changed.yaml"))
    assert changed.fingerprint() != load_robot(root / "a" / "panda.yaml").fingerprint()
