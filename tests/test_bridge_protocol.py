"""Wire-format tests: round trips, every error code, and a fuzz run against a live server."""

import random
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
    assert decode(encode(Message("state", 1, 0.0, state))).body["objects"]["cube"]["position"] == [1.0, 2.0, 3.0]


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
        assert decode(socket.recv()).body["code"] == "not_ready"
        socket.send(msgpack.packb(_raw("error", seq=2, code="x", message="y")))
        assert decode(socket.recv()).body["code"] == "unknown_type"
        socket.send(msgpack.packb(_raw("clear_estop", seq=1)))
        assert decode(socket.recv()).body["code"] == "out_of_order"
    finally:
        socket.close()
        server.stop()


def _fuzz_payloads(rng: random.Random, n: int):
    valid = msgpack.packb(_raw(positions=[0.0] * SPEC.dof, gripper=0.0, deadline=1e9))
    for i in range(n):
        kind = i % 6
        if kind == 0:
            yield rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:
            yield valid[: rng.randrange(0, len(valid))]
        elif kind == 2:  # well-formed commands with wild values, some replayed seqs
            values = [rng.choice([rng.uniform(-1e6, 1e6), float("inf"), float("nan"), 1e308]) for _ in range(SPEC.dof)]
            yield msgpack.packb(_raw(seq=rng.randrange(0, 10**9), positions=values,
                                     gripper=rng.uniform(-5, 5), deadline=1e12))
        elif kind == 3:
            yield msgpack.packb({rng.choice(["type", "seq", "version", "x"]): rng.choice([None, "command", -1, [1]])
                                 for _ in range(3)})
        elif kind == 4:
            yield b"\x92" * rng.randrange(1, 5000)  # deep nesting
        else:
            yield rng.randbytes(MAX_MESSAGE_BYTES + rng.randrange(1, 4096))


@pytest.mark.parametrize("count", [1200, pytest.param(10_000, marks=pytest.mark.slow)])
def test_fuzz_live_server_never_moves_out_of_limits(count):
    robot = RecordingRobot()
    server = RobotServer(robot, watchdog_timeout=10.0).start()
    context = zmq.Context.instance()
    rng = random.Random(1234)
    replies = dropped = 0
    try:
        client = RobotClient(server.endpoint, SPEC)
        client.reset(seed=0)
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(server.endpoint)
        hello = {"robot_name": SPEC.name, "spec_hash": SPEC.fingerprint()}
        socket.send(msgpack.packb(_raw("hello", seq=0, **hello)))
        assert decode(socket.recv()).type == "hello"
        for payload in _fuzz_payloads(rng, count):
            socket.send(payload)
            if socket.poll(1000):
                reply = decode(socket.recv())
                assert reply.type in ("error", "state")
                replies += 1
            else:  # dropped: a REQ socket must be replaced
                dropped += 1
                socket.close()
                socket = context.socket(zmq.REQ)
                socket.setsockopt(zmq.LINGER, 0)
                socket.connect(server.endpoint)
        socket.close()
        assert replies + dropped == count and replies > 0.8 * count
        # the valid client still works normally
        state = client.step()
        assert state.joint_positions.shape == (SPEC.dof,)
        target = np.array(SPEC.home) + 0.05
        for _ in range(80):  # the fuzz may have moved the arm far; 0.1 rad per tick brings it back
            client.apply(JointCommand(target, 0.03))
            state = client.step()
        assert np.allclose(state.joint_positions, target)
        client.close()
    finally:
        server.stop()
    assert robot.commands, "the fuzz run should have let some clamped commands through"
    previous = np.array(SPEC.home)
    for command in robot.commands:
        q = command.positions
        assert np.all(np.isfinite(q)) and np.all(q >= SPEC.lower) and np.all(q <= SPEC.upper)
        assert np.all(np.abs(q - previous) <= 0.1 + 1e-12)
        assert 0.0 <= command.gripper <= SPEC.gripper.max_width
        previous = q


def test_joint_torques_cross_the_bridge_when_the_robot_reports_them():
    """Protocol 2: a torque-sensing robot's torques reach the client; a robot without them sends none;
    torques of the wrong length are refused."""
    from simreal.bridge.protocol import state_body, state_from_body, validate_body

    with_torques = RobotState(0.1, np.zeros(SPEC.dof), np.zeros(SPEC.dof), 0.04, {}, np.arange(SPEC.dof) * 0.5)
    state, _ = state_from_body(validate_body("state", state_body(with_torques)))
    assert np.allclose(state.joint_torques, np.arange(SPEC.dof) * 0.5)
    without = state_body(RobotState(0.1, np.zeros(SPEC.dof), np.zeros(SPEC.dof), 0.04))
    assert "joint_torques" not in without and state_from_body(validate_body("state", without))[0].joint_torques is None
    with pytest.raises(ProtocolError, match="joint_torques"):
        validate_body("state", {**without, "joint_torques": [1.0, 2.0]})
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
