"""Fuzzing a live bridge server: no input ends its threads, disables the e-stop or the watchdog,
evicts a real client, or lets an out-of-bounds target reach the motors."""

import random
import struct
import time

import msgpack
import numpy as np
import pytest
import zmq

from simreal import assets
from simreal.bridge import RobotClient, RobotServer
from simreal.bridge.protocol import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, decode
from simreal.bridge.sessions import Sessions
from simreal.robot import JointCommand, RobotState

SPEC = assets.robot_spec("panda")
FIELDS = {"hello": ("robot_name", "spec_hash"), "reset": ("objects", "seed"),
          "command": ("positions", "gripper", "deadline"), "estop": ("reason",), "clear_estop": ()}
ENVELOPE = ("type", "version", "seq", "stamp")


class KinematicRobot:
    """Reaches each target in one step and records every command it is given."""

    def __init__(self) -> None:
        self.spec = SPEC
        self.control_period = 0.05
        self.commands: list[JointCommand] = []
        self.steps = 0
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
        self.steps += 1
        self._t += self.control_period
        return self._state()

    def close(self) -> None:
        pass


def _valid(kind: str, seq: int) -> dict:
    bodies = {"hello": {"robot_name": SPEC.name, "spec_hash": SPEC.fingerprint()},
              "reset": {"seed": 1}, "command": {"positions": list(SPEC.home), "gripper": 0.04, "deadline": 1e12},
              "estop": {"reason": "fuzz"}, "clear_estop": {}}
    return {"type": kind, "version": PROTOCOL_VERSION, "seq": seq, "stamp": time.monotonic(), **bodies[kind]}


def _hostile_value(rng: random.Random) -> bytes:
    """One msgpack value meant to hurt: deep, wide, huge, odd types, non-finite numbers."""
    choice = rng.randrange(12)
    if choice == 0:
        return b"\x91" * rng.randrange(100, 5000) + b"\x00"  # lists nested up to 5000 deep
    if choice == 1:
        return b"\x81\xa1k" * rng.randrange(100, 3000) + b"\x00"  # maps nested deep
    if choice == 2:
        return msgpack.packb(list(range(rng.randrange(65, 20_000))))
    if choice == 3:
        return msgpack.packb({str(i): i for i in range(rng.randrange(65, 2000))})
    if choice == 4:
        return msgpack.packb("x" * rng.randrange(1_000, 60_000))
    if choice == 5:
        return msgpack.packb(rng.randbytes(rng.randrange(1, 5000)))
    if choice == 6:
        data = rng.choice([rng.randbytes(rng.randrange(0, 50)), b"\x00" * 4, b"\x00" * 8])  # 4, 8: timestamps
        return b"\xc7" + bytes([len(data)]) + struct.pack("b", rng.randrange(-128, 128)) + data
    if choice == 7:
        return msgpack.packb(rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, -1e308]))
    if choice == 8:
        return msgpack.packb(rng.choice([2**64 - 1, -(2**63), True, None, -1]))
    if choice == 9:
        return msgpack.packb([[[[[1.0]]]]] * rng.randrange(1, 64))
    if choice == 10:
        return msgpack.packb({b"bin-key": 1, "k": [1.0] * 64})
    return msgpack.packb([rng.uniform(-1e6, 1e6) for _ in range(rng.randrange(0, 64))])


def _with_field(message: dict, field: str, value: bytes) -> bytes:
    """The message with ``field`` set to the raw msgpack ``value`` (added when absent)."""
    message = {**message, field: None}
    key = msgpack.packb(field) + b"\xc0"
    data = msgpack.packb(message)
    assert key in data
    return data.replace(key, msgpack.packb(field) + value, 1)


def _payloads(rng: random.Random, n: int):
    """Hostile values in every field of every type, e-stops gone wrong, garbage and truncations."""
    for i in range(n):
        kind = rng.choice(sorted(FIELDS))
        fields = (*ENVELOPE, *FIELDS[kind], "unknown_field")
        choice = i % 5
        if choice == 0:
            yield _with_field(_valid(kind, rng.randrange(10**9)), rng.choice(fields), _hostile_value(rng))
        elif choice == 1:  # several fields hostile at once
            data = msgpack.packb({f: None for f in fields})
            for f in fields:
                data = data.replace(msgpack.packb(f) + b"\xc0", msgpack.packb(f) + _hostile_value(rng), 1)
            yield data
        elif choice == 2:
            valid = msgpack.packb(_valid(kind, rng.randrange(10**9)))
            yield valid[: rng.randrange(len(valid))]
        elif choice == 3:
            yield rng.randbytes(rng.randrange(0, 300))
        else:
            yield rng.randbytes(MAX_MESSAGE_BYTES + rng.randrange(1, 4096))


ESTOP_VARIANTS = [
    {"version": 1}, {"unknown": 1}, {"reason": 5}, {"reason": "x" * 5000}, {"stamp": float("nan")},
    {"seq": -1}, {"seq": None}, {"seq": 2**64 - 1}, {"reason": [[1]] * 10}, {"version": "two"},
]


def _dealer(context: zmq.Context, endpoint: str) -> zmq.Socket:
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    return socket


def _ask(socket: zmq.Socket, payload: bytes, timeout_ms: int = 2000):
    socket.send_multipart([b"", payload])
    if not socket.poll(timeout_ms):
        return None
    return decode(socket.recv_multipart()[-1], direction="reply")


def _wait(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (a liveness wait, not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.mark.parametrize("count", [2000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_fuzzed_server_keeps_serving_and_its_estop_and_watchdog_work(count):
    robot = KinematicRobot()
    server = RobotServer(robot, watchdog_timeout=0.2, sessions=Sessions(max_sessions=4, max_pending=16)).start()
    context = zmq.Context.instance()
    rng = random.Random(1234)
    client = RobotClient(server.endpoint, SPEC, timeout=5.0)
    try:
        client.reset(seed=0)
        fuzzer = _dealer(context, server.endpoint)
        assert _ask(fuzzer, msgpack.packb(_valid("hello", 0))).type == "hello"
        answered = 0
        for payload in _payloads(rng, count):
            reply = _ask(fuzzer, payload)
            answered += reply is not None and reply.type in ("error", "state")
            if server.estopped:
                client.clear_estop()  # a fuzzed estop may have latched: that is allowed
        assert answered == count and server.alive and server.internal_errors == 0
        for variant in ESTOP_VARIANTS:  # every broken e-stop still latches, and says what was wrong
            reply = _ask(fuzzer, msgpack.packb({**_valid("estop", 10**9), **variant}))
            assert server.estopped and reply.type == "error" and reply.body["code"] == "estopped", variant
            assert "invalid" in reply.body["message"]
            client.clear_estop()
        flood = [_dealer(context, server.endpoint) for _ in range(80)]  # new connections, one invalid byte each
        for socket in flood:
            socket.send_multipart([b"", b"\xc1"])
        for socket in flood:
            assert socket.poll(5000) and decode(socket.recv_multipart()[-1], direction="reply").type == "error"
            socket.close()
        state = client.step()  # the real client was not evicted
        assert state.joint_positions.shape == (SPEC.dof,) and server.sessions.ready_count >= 1
        steps = robot.steps
        latched = client.estop("end of fuzz")  # latches at once and runs no robot step itself
        assert server.estopped and "estop" in client.last_flags and latched.time == state.time
        assert _wait(lambda: server.hold_began is not None and robot.steps >= steps + 3)  # the watchdog holds
        fuzzer.close()
    finally:
        client.close()
        server.stop()
    _assert_bounded(robot.commands, server.safety.step_bound)


def _assert_bounded(commands: list[JointCommand], bound: np.ndarray) -> None:
    previous = np.array(SPEC.home)
    for command in commands:
        q = command.positions
        assert np.all(np.isfinite(q)) and np.all(q >= SPEC.lower) and np.all(q <= SPEC.upper)
        assert np.all(np.abs(q - previous) <= bound + 1e-12)
        assert 0.0 <= command.gripper <= SPEC.gripper.max_width
        previous = q


def test_a_request_that_breaks_a_handler_gets_an_internal_error_and_serving_goes_on(monkeypatch):
    robot = KinematicRobot()
    server = RobotServer(robot).start()
    client = RobotClient(server.endpoint, SPEC, timeout=5.0)
    try:
        client.reset(seed=0)

        def broken(*args, **kwargs):
            raise RecursionError("a bug, not an input error")

        monkeypatch.setattr(server.safety, "filter", broken)
        with pytest.raises(Exception, match="internal"):
            client.step()
        monkeypatch.undo()
        assert server.alive and server.internal_errors == 1
        client.apply(JointCommand(np.array(SPEC.home), 0.04))
        assert client.step().joint_positions.shape == (SPEC.dof,)
    finally:
        client.close()
        server.stop()
