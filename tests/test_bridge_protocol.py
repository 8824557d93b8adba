"""Wire-format tests: round trips, every error code, and a fuzz run against a live server."""

import time

import msgpack
import numpy as np
import pytest
import zmq

from simreal import assets
from simreal.bridge import RobotClient, RobotServer
from simreal.bridge.protocol import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Message, ProtocolError, decode, encode
from simreal.robot import JointCommand, RobotState

SPEC = assets.robot_spec("panda")


class RecordingRobot:
    """Kinematic fake: reaches each target in one step and records every command it is given."""

    def __init__(self) -> None:
        self.spec = SPEC
        self.control_period = 0.05
        self.commands: list[JointCommand] = []
        self._q = np.array(SPEC.home, dtype=float)
        self._t = 0.0

    def _state(self) -> RobotState:
        return RobotState(self._t, self._q.copy(), np.zeros(SPEC.dof), 0.04)

    def reset(self, request=None, *, seed=None) -> RobotState:
        self._q, self._t = np.array(SPEC.home, dtype=float), 0.0
        return self._state()

    def apply(self, command: JointCommand) -> None:
        self.commands.append(command)
        self._q = np.array(command.positions, dtype=float)

    def step(self) -> RobotState:
        self._t += self.control_period
        return self._state()

    def close(self) -> None:
        pass


def _raw(kind="command", seq=1, **fields):
    return {"type": kind, "version": PROTOCOL_VERSION, "seq": seq, "stamp": time.monotonic(), **fields}


def _code(data: bytes, **kwargs) -> str:
    with pytest.raises(ProtocolError) as caught:
        decode(data, **kwargs)
    return caught.value.code


def test_round_trip():
    body = {"positions": [0.1] * SPEC.dof, "gripper": 0.02, "deadline": 12.5}
    message = Message("command", 7, 3.25, body)
    assert decode(encode(message), dof=SPEC.dof) == message
    state = {"time": 0.1, "joint_positions": [0.0, 1.0], "joint_velocities": [0.0, 0.0], "gripper_width": 0.04,
             "objects": {"cube": {"position": [1, 2, 3], "orientation": [0, 0, 0, 1], "half_extents": [1, 1, 1]}},
             "flags": ["clamped_step"]}
    reply = decode(encode(Message("state", 1, 0.0, state), "reply"), direction="reply")
    assert reply.body["objects"]["cube"]["position"] == [1.0, 2.0, 3.0]


def test_each_direction_has_its_own_messages():
    """A client may not send replies, a server may not send requests, and a hello request
    carries no reply-only fields."""
    state = {"time": 0.1, "joint_positions": [0.0], "joint_velocities": [0.0], "gripper_width": 0.04,
             "objects": {}, "flags": []}
    for kind, body in (("state", state), ("error", {"code": "x", "message": "y"})):
        with pytest.raises(ProtocolError, match="sent by servers only") as caught:
            decode(msgpack.packb(_raw(kind, **body)))
        assert caught.value.code == "unknown_type"
    with pytest.raises(ProtocolError, match="sent by clients only"):
        decode(msgpack.packb(_raw("command", positions=[0.0], gripper=0.0, deadline=1.0)), direction="reply")
    hello = {"robot_name": "panda", "spec_hash": SPEC.fingerprint()}
    assert _code(msgpack.packb(_raw("hello", **hello, dof=3))) == "bad_field"
    assert decode(msgpack.packb(_raw("hello", **hello))).body == hello
    with pytest.raises(ProtocolError, match="dof"):  # a hello reply must say dof and control_period
        decode(msgpack.packb(_raw("hello", **hello)), direction="reply")


@pytest.mark.parametrize("value", [
    pytest.param("deep", id="nested-1000-deep"), pytest.param("wide", id="65-items"),
    pytest.param("huge", id="10000-items"), pytest.param("text", id="long-string"),
])
@pytest.mark.parametrize("field", ["positions", "gripper", "deadline", "seq", "stamp", "version", "type"])
def test_hostile_values_in_any_field_raise_protocol_error_only(field, value):
    """Deep nesting, huge counts and long strings are refused before anything walks them, with
    a short message (never a RecursionError or a megabyte of repr)."""
    message = _raw(positions=[0.0] * SPEC.dof, gripper=0.0, deadline=1.0)
    message[field] = None
    data = msgpack.packb(message)
    marker = msgpack.packb(field) + b"\xc0"
    hostile = {"deep": b"\x91" * 1000 + b"\x00", "wide": msgpack.packb(list(range(65))),
               "huge": msgpack.packb(list(range(10_000))), "text": msgpack.packb("x" * 5000)}[value]
    data = data.replace(marker, msgpack.packb(field) + hostile)
    with pytest.raises(ProtocolError) as caught:
        decode(data, dof=SPEC.dof)
    assert caught.value.code in ("malformed", "bad_field", "too_large") and len(str(caught.value)) < 400


def test_each_error_code():
    pack = msgpack.packb
    assert _code(b"\xc1garbage") == "malformed"
    assert _code(pack([1, 2, 3])) == "malformed"
    assert _code(b"\x00" * (MAX_MESSAGE_BYTES + 1)) == "too_large"
    assert _code(pack({**_raw(), "version": PROTOCOL_VERSION + 1})) == "version_mismatch"
    assert _code(pack(_raw("dance"))) == "unknown_type"
    assert _code(pack(_raw(positions=[0.0] * SPEC.dof, gripper=0.0, deadline=float("nan")))) == "bad_field"
    assert _code(pack(_raw(positions=[0.0] * 3, gripper=0.0, deadline=1.0)), dof=SPEC.dof) == "bad_field"
    assert _code(pack(_raw(positions=[True] * SPEC.dof, gripper=0.0, deadline=1.0))) == "bad_field"
    assert _code(pack(_raw("hello", robot_name="panda"))) == "bad_field"
    with pytest.raises(ProtocolError, match="out_of_order"):
        from simreal.bridge.protocol import SequenceCheck

        check = SequenceCheck()
        check.check(Message("clear_estop", 5, 0.0))
        check.check(Message("clear_estop", 5, 0.0))


def test_not_ready_and_unknown_type_from_server():
    robot = RecordingRobot()
    server = RobotServer(robot).start()
    socket = zmq.Context.instance().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(server.endpoint)
        socket.send(msgpack.packb(_raw(positions=[0.0] * SPEC.dof, gripper=0.0, deadline=1e9)))
        assert decode(socket.recv(), direction="reply").body["code"] == "not_ready"
        socket.send(msgpack.packb(_raw("error", seq=2, code="x", message="y")))
        assert decode(socket.recv(), direction="reply").body["code"] == "unknown_type"
        socket.send(msgpack.packb(_raw("clear_estop", seq=1)))
        assert decode(socket.recv(), direction="reply").body["code"] == "out_of_order"
    finally:
        socket.close()
        server.stop()


def test_joint_torques_cross_the_bridge_when_the_robot_reports_them():
    """Protocol 2: a torque-sensing robot's torques reach the client; a robot without them sends none;
    torques of the wrong length are refused."""
    from simreal.bridge.protocol import state_body, state_from_body, validate_body

    with_torques = RobotState(0.1, np.zeros(SPEC.dof), np.zeros(SPEC.dof), 0.04, {}, np.arange(SPEC.dof) * 0.5)
    state, _ = state_from_body(validate_body("state", state_body(with_torques), "reply"))
    assert np.allclose(state.joint_torques, np.arange(SPEC.dof) * 0.5)
    without = state_body(RobotState(0.1, np.zeros(SPEC.dof), np.zeros(SPEC.dof), 0.04))
    assert "joint_torques" not in without
    assert state_from_body(validate_body("state", without, "reply"))[0].joint_torques is None
    with pytest.raises(ProtocolError, match="joint_torques"):
        validate_body("state", {**without, "joint_torques": [1.0, 2.0]}, "reply")
    from simreal.targets import PerturbedTarget

    server = RobotServer(PerturbedTarget("slippery")).start()
    client = RobotClient(server.endpoint, SPEC, timeout=2.0)
    try:
        client.reset()
        client.apply(JointCommand(np.asarray(SPEC.home, dtype=float), 0.04))
        torques = client.step().joint_torques
    finally:
        client.close()
        server.stop()
    assert torques is not None and torques.shape == (SPEC.dof,) and np.abs(torques).max() > 1.0  # gravity load
