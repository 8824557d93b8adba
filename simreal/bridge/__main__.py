"""``python -m simreal.bridge``: serve a target profile (a stand-in real robot) on the bridge,
write CURVE keys, or print a robot spec's hash.

``serve`` prints the bound endpoint on its first line, then serves until SIGTERM/SIGINT;
bad options, a refused bind or a target it cannot build end in one line on stderr and
exit code 2; a serving thread that dies ends the process with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING

import zmq

from .auth import InsecureEndpointError, server_keys_from_files, write_keypair
from .safety import DEFAULT_MAX_STEP, OVERSPEED_ACTIONS, SafetyConfig
from .sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_PENDING, DEFAULT_MAX_SESSIONS, Sessions

if TYPE_CHECKING:
    from ..kinematics import Kinematics
    from ..robot import Robot
    from ..specs import RobotSpec
    from .server import RobotServer

DESCRIPTION = ("Serve a robot on the simreal bridge (a target profile: a stand-in real robot), write CURVE keys, "
               "or print a robot spec's hash. 'python -m simreal.bridge <verb> --help' lists a verb's options.")
SUPERVISE_PERIOD = 0.5  # s between checks that the serving threads are alive


def add_serve_options(parser: argparse.ArgumentParser, endpoint: str = "tcp://127.0.0.1:0") -> None:
    """The ``serve`` options, shared by this module and ``scripts/hardware_bridge.py``."""
    add = parser.add_argument
    add("--target", default="weak_motors", help="target profile name or YAML path (default: %(default)s)")
    add("--driver", default=None, help="serve your own Robot class instead of a target profile: 'module:Class', "
        "constructed with the --robot spec (simreal.drivers.echo:EchoRobot is the smallest example)")
    add("--robot", default="panda", help="robot spec name or YAML path the --driver serves (default: %(default)s)")
    add("--endpoint", default=endpoint, help="ZeroMQ endpoint to bind; port 0 picks a free one (default: %(default)s)")
    add("--watchdog", type=float, default=0.1, help="hold after this many s without commands (default: %(default)s)")
    add("--max-step", type=float, default=DEFAULT_MAX_STEP, help="largest joint-target change per tick, rad "
        "(default: %(default)s)")
    add("--speed-fraction", type=float, default=1.0, help="targets move at most this fraction of each joint's "
        "velocity limit (default: %(default)s)")
    add("--ramp-time", type=float, default=0.0, help="s the target's speed takes from rest to the velocity limit "
        "at the least (an acceleration limit); 0.8 with --speed-fraction 0.6 keeps a stiff arm's measured speed "
        "within its limit, at the cost of slower motion (default: 0, no limit)")
    add("--deceleration", type=float, default=None, help="rad/s^2 assumed when braking before joint limits "
        "(default: velocity limit / 0.5 s)")
    add("--overspeed", choices=OVERSPEED_ACTIONS, default="hold", help="what a joint measured over its velocity "
        "limit triggers (default: %(default)s)")
    add("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS, help="connections that said hello, at most "
        "(default: %(default)s)")
    add("--max-pending", type=int, default=DEFAULT_MAX_PENDING, help="connections that have not said hello yet, "
        "at most; the oldest is forgotten first (default: %(default)s)")
    add("--curve-secret", default=None, help="the server's CURVE secret certificate (.key_secret, from "
        "'python -m simreal.bridge keys'); required to bind anything but loopback")
    add("--curve-clients", default=None, help="folder of the client public certificates (*.key) allowed to "
        "connect (default: any client that knows the server's public key)")


def serve_from_args(args: argparse.Namespace) -> int:
    """Build the target and serve it as the parsed ``serve`` options say; the exit code."""
    from ..kinematics import Kinematics
    from ..specs import SpecError
    from .server import RobotServer

    try:
        if args.curve_clients and not args.curve_secret:
            raise ValueError("--curve-clients needs --curve-secret (the server's own certificate)")
        auth = server_keys_from_files(args.curve_secret, args.curve_clients) if args.curve_secret else None
        sessions = Sessions(args.max_sessions, args.max_pending, DEFAULT_IDLE_TIMEOUT)
        robot = _served_robot(args)
    except (SpecError, FileNotFoundError, ValueError) as error:
        return _fail(error)
    try:
        safety = _safety(args, robot.spec)
    except ValueError as error:
        robot.close()
        return _fail(error)
    kinematics = Kinematics(robot.spec)  # enables the workspace-box check of the safety layer
    try:
        server = RobotServer(robot, args.endpoint, watchdog_timeout=args.watchdog, auth=auth, safety=safety,
                             kinematics=kinematics, sessions=sessions).start()
    except (InsecureEndpointError, ValueError, zmq.ZMQError) as error:
        robot.close()
        kinematics.close()
        return _fail(f"cannot serve on {args.endpoint}: {error}")
    return _run_until_stopped(server, robot, kinematics)


def _served_robot(args: argparse.Namespace) -> Robot:
    """The --driver class for the --robot spec, or else the --target profile's stand-in."""
    if args.driver:
        from .. import assets
        from ..drivers import load_driver

        return load_driver(args.driver, assets.robot_spec(args.robot))
    from ..targets import open_target

    return open_target(args.target)


def _safety(args: argparse.Namespace, spec: RobotSpec) -> SafetyConfig:
    options = {"max_step": args.max_step, "deceleration": args.deceleration, "overspeed_action": args.overspeed}
    if args.ramp_time < 0:
        raise ValueError(f"--ramp-time must be 0 (no limit) or positive, got {args.ramp_time}")
    if args.ramp_time > 0:
        return SafetyConfig.smooth(spec, args.ramp_time, args.speed_fraction, **options)
    return SafetyConfig(speed_fraction=args.speed_fraction, **options)


def _run_until_stopped(server: RobotServer, robot: Robot, kinematics: Kinematics) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(server.endpoint, flush=True)
    code = 0
    while not stop.wait(SUPERVISE_PERIOD):
        if not server.alive:
            print("error: a bridge serving thread died; stopping so a supervisor can restart the server",
                  file=sys.stderr)
            code = 1
            break
    server.stop()
    robot.close()
    kinematics.close()
    return code


def _fail(error: object) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def _keys(args: argparse.Namespace) -> int:
    public, secret = write_keypair(args.out, args.name)
    print(f"public (give to peers): {public}\nsecret (keep private): {secret}")
    return 0


def _spec_hash(args: argparse.Namespace) -> int:
    from .. import assets
    from ..specs import SpecError

    try:
        spec = assets.robot_spec(args.robot)
    except (SpecError, FileNotFoundError) as error:
        return _fail(error)
    if args.json:
        data = asdict(spec)
        data.pop("source")
        print(json.dumps(data, sort_keys=True))
    print(spec.fingerprint())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simreal.bridge", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="verb", required=True)
    add_serve_options(sub.add_parser("serve", help="serve a target profile (the stand-in real robot)"))
    k = sub.add_parser("keys", help="write a CURVE keypair (<name>.key public, <name>.key_secret private)")
    k.add_argument("--out", default="bridge_keys", help="folder to write to (default: %(default)s)")
    k.add_argument("--name", default="server", help="file name stem (default: %(default)s)")
    h = sub.add_parser("spec-hash", help="print a robot spec's hash (the hello's spec_hash)")
    h.add_argument("robot", help="robot spec name or YAML path")
    h.add_argument("--json", action="store_true", help="also print the canonical JSON that is hashed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"serve": serve_from_args, "keys": _keys, "spec-hash": _spec_hash}
    return handlers[args.verb](args)


__all__ = ["add_serve_options", "build_parser", "main", "serve_from_args"]


if __name__ == "__main__":
    sys.exit(main())
