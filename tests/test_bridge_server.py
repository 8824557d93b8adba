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

# The hold is scheduled for exactly last command + watchdog_timeout; what can delay it is
# the ms rounding of zmq poll timeouts (<= 1 ms), a GIL hand-off from the test thread
# (the default switch interval is 5 ms) and one robot.step() (~1 ms in PyBullet).
# One control period (50 ms) covers those with room for a loaded 2-core CI machine: a
# hold that starts later than that would have missed a whole extra tick.
SCHEDULING_MARGIN = 0.05


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
    assert {"clamped_step", "gripper_clamped"} <= set(client.last_flags)


def test_version_and_spec_mismatch_are_refused(served, robot):
    server, _ = served
    socket = zmq.Context.instance().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(server.endpoint)
        socket.send(msgpack.packb({"type": "hello", "version": 99, "seq": 1, "stamp": 0.0,
                                   "robot_name": "panda", "spec_hash": robot.spec.fingerprint()}))
        error = decode(socket.recv())
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


def test_watchdog_holds_within_timeout(served, robot):
    server, client = served
    client.reset(seed=0)
    for _ in range(3):
        client.apply(JointCommand(np.array(robot.spec.home) + 0.05, 0.04))
        sent = time.monotonic()
        client.step()
    time.sleep(0.3)
    assert server.hold_began is not None and server.last_command_at is not None
    delay = server.hold_began - server.last_command_at
    assert 0.1 <= delay <= 0.1 + SCHEDULING_MARGIN
    assert server.hold_began - sent <= 0.1 + SCHEDULING_MARGIN
    assert "watchdog_hold" in server.last_flags
    held = server.last_state.joint_positions
    time.sleep(0.15)  # the hold keeps ticking at the control period, at the latched pose
    assert server.last_state.time > 0 and np.allclose(server.last_state.joint_positions, held, atol=0.01)
    client.step()  # a command ends the hold
    assert server.hold_began is None and "watchdog_hold" not in client.last_flags


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
    time.sleep(0.12)
    assert server.last_state.time > state.time  # still held and ticking
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
            time.sleep(0.3)  # mid-episode: commands are streaming
            assert server.hold_began is None
            process.kill()
            process.wait(timeout=10)
            time.sleep(0.3)
        finally:
            if process.poll() is None:
                process.kill()
        assert server.hold_began is not None
        delay = server.hold_began - server.last_command_at
        assert 0.1 <= delay <= 0.1 + SCHEDULING_MARGIN
        assert "watchdog_hold" in server.last_flags
