"""End-to-end bridge tests: a RobotClient driving a served PerturbedTarget over loopback."""

import time

import msgpack
import numpy as np
import pytest
import zmq

from simreal.bridge import BridgeError, InsecureEndpointError, RobotClient, RobotServer
from simreal.bridge.protocol import PROTOCOL_VERSION, decode
from simreal.robot import JointCommand, ResetRequest, Robot
from simreal.targets import PerturbedTarget



def _wait(condition, timeout: float = 10.0) -> bool:
    """Poll until ``condition`` holds: a liveness wait, never a timing assertion."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not condition():
        time.sleep(0.005)
    return condition()


@pytest.fixture(scope="module")
def robot():
    target = PerturbedTarget("weak_motors")
    yield target
    target.close()


@pytest.fixture
def served(robot):
    server = RobotServer(robot, watchdog_timeout=0.1).start()
    client = RobotClient(server.endpoint, robot.spec, timeout=2.0)
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


def test_client_is_a_robot_and_runs_an_episode(served, robot):
    _, client = served
    assert isinstance(client, Robot) and client.control_period == robot.control_period
    state = client.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}), seed=0)
    assert "cube" in state.objects and state.time == 0.0
    home = np.array(robot.spec.home)
    sweep = np.zeros(robot.spec.dof)
    sweep[:4] = (0.6, 0.5, -0.4, 0.5)
    for t in range(30):
        client.apply(JointCommand(home + sweep * min(t / 10, 1.0), 0.08 if t < 15 else 0.0))
        state = client.step()
    assert state.time == pytest.approx(30 * robot.control_period)
    assert np.allclose(state.joint_positions, home + sweep, atol=0.05)
    client.apply(JointCommand(home + 3.0, 0.5))  # far beyond a step and the gripper range
    client.step()
    assert {"clamped_velocity", "gripper_clamped"} <= set(client.last_flags)


def test_version_and_spec_mismatch_are_refused(served, robot):
    server, _ = served
    socket = zmq.Context.instance().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(server.endpoint)
        socket.send(msgpack.packb({"type": "hello", "version": 99, "seq": 1, "stamp": 0.0,
                                   "robot_name": "panda", "spec_hash": robot.spec.fingerprint()}))
        error = decode(socket.recv(), direction="reply")
    finally:
        socket.close()
    assert error.body["code"] == "version_mismatch"
    assert "99" in error.body["message"] and str(PROTOCOL_VERSION) in error.body["message"]
    from dataclasses import replace

    other = replace(robot.spec, home=tuple(np.array(robot.spec.home) + 0.01))
    with pytest.raises(BridgeError, match="spec_mismatch") as caught:
        RobotClient(server.endpoint, other)
    assert robot.spec.fingerprint() in str(caught.value) and other.fingerprint() in str(caught.value)


def test_non_loopback_bind_without_keys_is_refused(robot):
    for endpoint in ("tcp://0.0.0.0:0", "tcp://*:5555", "tcp://192.168.1.10:5555", "tcp://robot.lab:5555"):
        with pytest.raises(InsecureEndpointError, match="CURVE"):
            RobotServer(robot, endpoint)


def test_watchdog_holds_once_commands_stop(served, robot):
    server, client = served
    client.reset(seed=0)
    for _ in range(3):
        client.apply(JointCommand(np.array(robot.spec.home) + 0.05, 0.04))
        client.step()
    assert _wait(lambda: server.hold_began is not None)
    assert server.hold_began - server.last_command_at >= 0.1  # never before the timeout
    assert server.robot_errors == 0 and "watchdog_hold" in server.last_flags
    held, time_then = server.last_state.joint_positions, server.last_state.time
    assert _wait(lambda: server.last_state.time >= time_then + 2 * robot.control_period)  # it keeps ticking...
    assert np.allclose(server.last_state.joint_positions, held, atol=0.01)  # ...at the latched pose
    client.step()  # a command ends the hold
    assert server.hold_began is None and "watchdog_hold" not in client.last_flags


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watchdog_schedule_on_an_injected_clock(robot):
    """The hold starts exactly at last command + timeout and ticks once per control period;
    an e-stop's first hold tick is due at once. Driven step by step, no threads, no sleeps."""
    from simreal.bridge.protocol import Message, encode

    clock = _Clock()
    server = RobotServer(robot, watchdog_timeout=0.1, clock=clock)
    ask = lambda kind, seq, **body: server._answer(encode(Message(kind, seq, clock.now, body)), b"peer")  # noqa: E731
    ask("hello", 1, robot_name=robot.spec.name, spec_hash=robot.spec.fingerprint())
    ask("reset", 2, seed=0)
    ask("command", 3, positions=list(robot.spec.home), gripper=0.04, deadline=clock.now + 1.0)
    commanded = clock.now
    clock.now = commanded + 0.1 - 1e-6
    server._watch_once()
    assert server.hold_began is None
    clock.now = commanded + 0.1
    server._watch_once()
    assert server.hold_began == commanded + 0.1 and "watchdog_hold" in server.last_flags
    ticks = server.last_state.time
    for k in range(1, 4):
        clock.now = commanded + 0.1 + k * robot.control_period
        server._watch_once()
        assert server.last_state.time == pytest.approx(ticks + k * robot.control_period)
    server._wake.clear()
    reply = ask("estop", 4)
    assert server.estopped and reply.type == "state" and server._tick_due() == -np.inf


def test_estop_latches_until_cleared(served, robot):
    server, client = served
    client.reset(seed=0)
    client.step()
    state = client.estop("test")
    assert "estop" in client.last_flags and server.estopped
    for _ in range(2):
        with pytest.raises(BridgeError, match="estopped"):
            client.step()
    with pytest.raises(BridgeError, match="estopped"):
        client.reset(seed=0)
    assert _wait(lambda: server.last_state.time > state.time)  # held and ticking by the watchdog
    client.clear_estop()
    client.apply(JointCommand(np.array(robot.spec.home), 0.04))
    client.step()
    assert "estop" not in client.last_flags


def test_curve_authenticated_round_trip_and_wrong_server_key(robot):
    import dataclasses

    from simreal.bridge import BridgeTimeout, CurveKeys

    server_keys = CurveKeys.generate()
    client_keys = dataclasses.replace(CurveKeys.generate(), server_public=server_keys.public)
    RobotServer(robot, "tcp://0.0.0.0:0", auth=server_keys)  # keys make a non-loopback bind acceptable
    with RobotServer(robot, auth=server_keys) as server:
        client = RobotClient(server.endpoint, robot.spec, timeout=2.0, auth=client_keys)
        try:
            state = client.reset(seed=0)
            client.apply(JointCommand(state.joint_positions, 0.04))
            assert client.step().joint_positions.shape == (robot.spec.dof,)
        finally:
            client.close()
        impostor = dataclasses.replace(client_keys, server_public=CurveKeys.generate().public)
        with pytest.raises(BridgeTimeout):
            RobotClient(server.endpoint, robot.spec, timeout=0.5, auth=impostor)


def test_curve_server_admits_only_listed_clients(robot):
    import dataclasses

    from simreal.bridge import BridgeTimeout, CurveKeys

    listed = CurveKeys.generate()
    server_keys = dataclasses.replace(CurveKeys.generate(), authorized_clients=frozenset({listed.public}))
    with RobotServer(robot, auth=server_keys) as server:
        good = RobotClient(server.endpoint, robot.spec, timeout=2.0,
                           auth=dataclasses.replace(listed, server_public=server_keys.public))
        assert good.reset(seed=0).joint_positions.shape == (robot.spec.dof,)
        good.close()
        stranger = dataclasses.replace(CurveKeys.generate(), server_public=server_keys.public)
        with pytest.raises(BridgeTimeout):
            RobotClient(server.endpoint, robot.spec, timeout=0.5, auth=stranger)


def test_killing_the_client_process_mid_episode_triggers_the_hold(robot):
    """A client process streaming commands is SIGKILLed; the server must hold by itself."""
    import subprocess
    import sys

    child = (
        "import sys, numpy as np\n"
        "from simreal import assets\n"
        "from simreal.bridge import RobotClient\n"
        "from simreal.robot import JointCommand\n"
        "spec = assets.robot_spec('panda')\n"
        "client = RobotClient(sys.argv[1], spec, timeout=2.0)\n"
        "state = client.reset(seed=0)\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    client.apply(JointCommand(state.joint_positions + 0.01, 0.04))\n"
        "    state = client.step()\n"
    )
    with RobotServer(robot, watchdog_timeout=0.1) as server:
        process = subprocess.Popen([sys.executable, "-c", child, server.endpoint], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().strip() == "ready"
            assert _wait(lambda: server.last_state is not None and server.last_state.time > 0.5)  # streaming
            assert server.hold_began is None
            process.kill()
            process.wait(timeout=10)
            assert _wait(lambda: server.hold_began is not None)
        finally:
            if process.poll() is None:
                process.kill()
        assert server.hold_began - server.last_command_at >= 0.1
        assert server.robot_errors == 0 and "watchdog_hold" in server.last_flags


def test_reset_with_unknown_objects_is_refused_and_moves_nothing(served, robot):
    server, client = served
    client.reset(seed=0)
    client.apply(JointCommand(np.array(robot.spec.home) + 0.05, 0.04))
    before = client.step()
    with pytest.raises(BridgeError, match="bad_field") as caught:
        client.reset(ResetRequest({"cube": (0.5, 0.0, 0.0), "mug": (0.4, 0.1, 0.0)}), seed=0)
    assert "mug" in str(caught.value) and "cube" in str(caught.value)  # names what is wrong and what exists
    assert server.last_state.time == before.time  # nothing was reset


def test_a_failed_re_hello_leaves_a_ready_session_ready(served, robot):
    from dataclasses import replace

    server, client = served
    client.reset(seed=0)
    socket_identity = next(iter(server.sessions._ready))
    other = replace(robot.spec, home=tuple(np.array(robot.spec.home) + 0.01))
    from simreal.bridge.protocol import Message, encode

    client._seq += 1  # the hello goes out on the client's own connection, in its sequence
    reply = server._answer(encode(Message("hello", client._seq, time.monotonic(),
                                          {"robot_name": other.name, "spec_hash": other.fingerprint()})),
                           socket_identity)
    assert reply.body["code"] == "spec_mismatch" and "stays ready" in reply.body["message"]
    client.apply(JointCommand(np.array(robot.spec.home), 0.04))
    assert client.step().joint_positions.shape == (robot.spec.dof,)  # still ready


def test_sessions_never_evict_a_ready_peer_for_an_unready_one():
    from simreal.bridge.protocol import ProtocolError
    from simreal.bridge.sessions import Sessions

    sessions = Sessions(max_sessions=2, max_pending=3, idle_timeout=5.0)
    sessions.get(b"a", 0.0)
    sessions.promote(b"a", 0.0)
    for i in range(100):  # a flood of new identities that never say hello
        sessions.get(f"x{i}".encode(), 1.0)
    assert sessions.get(b"a", 2.0).ready and len(sessions) == 1 + 3
    sessions.get(b"b", 2.0)
    sessions.promote(b"b", 2.0)
    sessions.get(b"c", 3.0)
    with pytest.raises(ProtocolError) as caught:  # both ready slots seen within the idle timeout
        sessions.promote(b"c", 3.0)
    assert caught.value.code == "session_limit"
    sessions.get(b"b", 7.5)
    sessions.promote(b"c", 7.5)  # "a" has been idle for 5.5 s: its slot is taken
    assert not sessions.get(b"a", 7.5).ready and sessions.get(b"c", 7.5).ready


def test_overspeed_can_latch_the_estop():
    from simreal.bridge.safety import SafetyConfig
    from simreal.robot import RobotState

    class Whipping:
        """Reports a wrist measured at twice its velocity limit after every step."""

        def __init__(self, spec):
            self.spec, self.control_period = spec, 0.05

        def reset(self, request=None, *, seed=None):
            return RobotState(0.0, np.array(self.spec.home, float), np.zeros(self.spec.dof), 0.04)

        def apply(self, command):
            self.q = command.positions

        def step(self):
            v = np.zeros(self.spec.dof)
            v[5] = 2 * self.spec.velocity_limits[5]
            return RobotState(0.05, np.array(self.q), v, 0.04)

        def close(self):
            pass

    from simreal import assets

    spec = assets.robot_spec("panda")
    with RobotServer(Whipping(spec), safety=SafetyConfig(overspeed_action="estop")) as server:
        client = RobotClient(server.endpoint, spec, timeout=2.0)
        try:
            client.reset(seed=0)
            client.apply(JointCommand(np.array(spec.home), 0.04))
            client.step()  # measured at rest: passes, and the arm then reports the whip
            client.apply(JointCommand(np.array(spec.home), 0.04))
            client.step()
            assert {"overspeed", "estop"} <= set(client.last_flags) and server.estopped
            with pytest.raises(BridgeError, match="estopped"):
                client.step()
        finally:
            client.close()


def _five_steps(robot):
    """The state after a seeded reset and five fixed commands."""
    home = np.array(robot.spec.home)
    robot.reset(seed=3)
    for t in range(5):
        robot.apply(JointCommand(home + 0.02 * t, 0.04))
        state = robot.step()
    return state


@pytest.mark.parametrize("spin", [0.0, 0.002, 0.5])
def test_how_the_client_waits_for_replies_does_not_change_what_it_gets(robot, spin):
    """Spinning, blocking, or spinning through a whole robot step: the same states."""
    with RobotServer(robot, watchdog_timeout=1.0) as server:
        client = RobotClient(server.endpoint, robot.spec, timeout=2.0, spin=spin)
        try:
            state = _five_steps(client)
        finally:
            client.close()
    reference = PerturbedTarget("weak_motors")
    try:
        expected = _five_steps(reference)
    finally:
        reference.close()
    np.testing.assert_array_equal(state.joint_positions, expected.joint_positions)


def test_a_spin_longer_than_the_timeout_is_refused(served, robot):
    server, _ = served
    with pytest.raises(ValueError, match="spin must be between 0 and the timeout"):
        RobotClient(server.endpoint, robot.spec, timeout=0.5, spin=1.0)
