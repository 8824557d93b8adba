"""``simreal bench bridge``: the control loop over the bridge against the same loop in-process.

The policy drives a robot served in another process (loopback TCP) at 100, 500 and
1000 Hz requested, then unpaced; the same policy drives the same robot in-process. Two
robots: the target profile's simulated stand-in, whose every step runs a control
period of physics, and the echo driver (``simreal.drivers.echo``), which runs none. Loop
periods include policy inference, the env's kinematics, the network round trip, the
safety layer and the robot's step, so the echo rows are what the bridge and the loop
cost on an arm whose driver answers at once, and the gap to the simulated rows is the
stand-in's physics. Over the bridge the loop runs twice: with the client's default reply
wait (a short spin, then blocking) and blocking at once, so what the spin buys is in the
same run. A last row is the floor under all of them: a bare pyzmq echo between two
processes (no simreal code, no policy), paced the same way, with messages the size of a
state reply. It shows what this machine's scheduling alone costs a loop that crosses
processes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import zmq

from ..bridge import RobotClient
from ..bridge.client import DEFAULT_SPIN
from ..bridge.process import served_target
from ..deploy import deploy, loop_stats, pace
from ..drivers.echo import EchoRobot
from ..learn.adapt import load_policy
from ..targets import open_target


ECHO_DRIVER = "simreal.drivers.echo:EchoRobot"


@dataclass(frozen=True)
class LoopRow:
    robot: str  # "simulated" (the target profile's stand-in), "echo" (no physics) or "zmq" (the floor)
    where: str  # "bridge" (the client's default reply wait), "bridge, blocking" or "in-process"
    requested_hz: float | None
    achieved_hz: float
    p50_ms: float
    p99_ms: float


def measure(policy_name: str = "panda_grasp", target: str = "weak_motors",
            rates: Sequence[float | None] = (100.0, 500.0, 1000.0, None), episodes: int = 6,
            seed: int = 0) -> list[LoopRow]:
    policy = load_policy(policy_name)
    robots = (("simulated", (), lambda: open_target(target)),
              ("echo", ("--driver", ECHO_DRIVER, "--robot", policy.spec.name), lambda: EchoRobot(policy.spec)))
    rows = []
    for name, serve_options, make_local in robots:
        with served_target(target, extra=serve_options) as endpoint:
            for where, spin in (("bridge", DEFAULT_SPIN), ("bridge, blocking", 0.0)):
                client = RobotClient(endpoint, policy.spec, timeout=5.0, spin=spin)
                try:
                    rows += [_row(name, where, rate, deploy(policy, client, episodes, seed, rate_hz=rate))
                             for rate in rates]
                finally:
                    client.close()
        local = make_local()
        try:
            rows += [_row(name, "in-process", rate, deploy(policy, local, episodes, seed, rate_hz=rate))
                     for rate in rates]
        finally:
            local.close()
    return rows


_ZMQ_ECHO = """
import zmq
socket = zmq.Context.instance().socket(zmq.ROUTER)
print(socket.bind_to_random_port("tcp://127.0.0.1"), flush=True)
while True:
    if socket.poll(20):
        socket.send_multipart(socket.recv_multipart())
"""
MESSAGE_BYTES = 400  # about an encoded state reply


def zmq_floor(rates: Sequence[float | None] = (100.0, 500.0, 1000.0, None), loops: int = 2000,
              spin: float = DEFAULT_SPIN) -> list[LoopRow]:
    """Round trips of a bare pyzmq echo served by another process, each wait as the bridge
    client's (``spin`` s of polling, then blocking), paced like the control loop."""
    server = subprocess.Popen([sys.executable, "-c", _ZMQ_ECHO], stdout=subprocess.PIPE, text=True)
    socket = zmq.Context.instance().socket(zmq.REQ)
    try:
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(f"tcp://127.0.0.1:{int(server.stdout.readline())}")
        return [_zmq_row(socket, rate, loops, spin) for rate in rates]
    finally:
        socket.close()
        server.kill()
        server.wait()


def _zmq_row(socket: zmq.Socket, rate: float | None, loops: int, spin: float) -> LoopRow:
    message, periods = b"x" * MESSAGE_BYTES, []
    last = time.perf_counter()
    for _ in range(loops):
        socket.send(message)
        started = time.perf_counter()
        while time.perf_counter() - started < spin and not socket.poll(0):
            pass
        if not socket.poll(5000):
            raise RuntimeError("the zmq echo process stopped answering")
        socket.recv()
        last = pace(last, rate, periods)
    stats = loop_stats(periods)
    return LoopRow("zmq", "bridge", rate, stats["mean_hz"], stats["p50_ms"], stats["p99_ms"])


def _row(robot: str, where: str, rate: float | None, outcome: object) -> LoopRow:
    stats = outcome.loop_stats()
    return LoopRow(robot, where, rate, stats["mean_hz"], stats["p50_ms"], stats["p99_ms"])
