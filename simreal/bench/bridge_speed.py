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
same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..bridge import RobotClient
from ..bridge.client import DEFAULT_SPIN
from ..bridge.process import served_target
from ..deploy import deploy
from ..drivers.echo import EchoRobot
from ..learn.adapt import load_policy
from ..targets import open_target


ECHO_DRIVER = "simreal.drivers.echo:EchoRobot"


@dataclass(frozen=True)
class LoopRow:
    robot: str  # "simulated" (the target profile's stand-in) or "echo" (no physics)
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


def _row(robot: str, where: str, rate: float | None, outcome: object) -> LoopRow:
    stats = outcome.loop_stats()
    return LoopRow(robot, where, rate, stats["mean_hz"], stats["p50_ms"], stats["p99_ms"])
