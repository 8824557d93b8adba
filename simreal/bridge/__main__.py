"""``python -m simreal.bridge serve``: serve a target profile (the simulated "real robot")
on the bridge. Prints the bound endpoint on its first line, then serves until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..kinematics import Kinematics
from ..targets import open_target
from .server import RobotServer


def serve(target: str, endpoint: str, watchdog: float, max_step: float = 0.15) -> None:
    """Serve a PerturbedTarget until SIGTERM/SIGINT. ``max_step`` (rad per tick) defaults to
    the control head's largest action, so the safety layer bounds but does not reshape it."""
    robot = open_target(target)
    kinematics = Kinematics(robot.spec)  # enables the workspace-box check of the safety layer
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with RobotServer(robot, endpoint, watchdog_timeout=watchdog, max_step=max_step, kinematics=kinematics) as server:
        print(server.endpoint, flush=True)
        stop.wait()
    robot.close()
    kinematics.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simreal.bridge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("serve", help="serve a PerturbedTarget built from a target profile")
    s.add_argument("--target", default="weak_motors", help="target profile name or YAML path")
    s.add_argument("--endpoint", default="tcp://127.0.0.1:0", help="ZeroMQ endpoint (port 0: any free port)")
    s.add_argument("--watchdog", type=float, default=0.1, help="hold position after this many s without commands")
    s.add_argument("--max-step", type=float, default=0.15, help="largest joint-target change per tick (rad)")
    args = parser.parse_args(argv)
    serve(args.target, args.endpoint, args.watchdog, args.max_step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
