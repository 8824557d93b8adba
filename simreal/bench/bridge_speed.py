"""``simreal bench bridge``: the control loop over the bridge against the same loop in-process.

The adapted-or-source policy drives a target served in another process (loopback TCP)
at 100, 500 and 1000 Hz requested, then unpaced; the same policy drives the same target
in-process. Loop periods include policy inference, the env's kinematics, the network
round trip and the served robot's physics step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..bridge import RobotClient
from ..bridge.process import served_target
from ..deploy import deploy
from ..learn.adapt import load_policy
from ..targets import open_target


@dataclass(frozen=True)
class LoopRow:
    where: str
    requested_hz: float | None
    achieved_hz: float
    p50_ms: float
    p99_ms: float


def measure(policy_name: str = "panda_grasp", target: str = "weak_motors",
            rates: Sequence[float | None] = (100.0, 500.0, 1000.0, None), episodes: int = 6,
            seed: int = 0) -> list[LoopRow]:
    policy = load_policy(policy_name)
    rows = []
    with served_target(target) as endpoint:
        client = RobotClient(endpoint, policy.spec, timeout=5.0)
        try:
            rows += [_row("bridge", rate, deploy(policy, client, episodes, seed, rate_hz=rate)) for rate in rates]
        finally:
            client.close()
    local = open_target(target)
    try:
        rows += [_row("in-process", rate, deploy(policy, local, episodes, seed, rate_hz=rate)) for rate in rates]
    finally:
        local.close()
    return rows


def _row(where: str, rate: float | None, outcome: object) -> LoopRow:
    stats = outcome.loop_stats()
    return LoopRow(where, rate, stats["mean_hz"], stats["p50_ms"], stats["p99_ms"])
