#!/usr/bin/env python3
"""Hardware bridge: ``serve`` a robot (default: a simulated perturbed target), ``deploy``
a policy checkpoint to a server at a fixed rate, logging every step, or ``excite`` it:
record the calibration excitation from the robot behind a server.

    python scripts/hardware_bridge.py serve --target weak_motors --endpoint tcp://127.0.0.1:5555
    python scripts/hardware_bridge.py deploy --policy runs/adapt/adapted --endpoint tcp://127.0.0.1:5555
    python scripts/hardware_bridge.py excite --routine gravity --out robot.npz --endpoint tcp://127.0.0.1:5555

Thin over ``simreal.bridge`` and ``simreal.deploy``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simreal.bridge import RobotClient
    from simreal.specs import RobotSpec


DESCRIPTION = ("Hardware bridge: serve a robot (default: a simulated target profile), deploy a policy to a server "
               "at a fixed rate logging every step, or record the calibration excitation from the robot behind a "
               "server. '<verb> --help' lists a verb's options.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    sub = parser.add_subparsers(dest="verb", required=True)
    from simreal.bridge.__main__ import add_serve_options, serve_from_args

    add_serve_options(sub.add_parser("serve", help="serve a target profile (the stand-in real robot)"),
                      endpoint="tcp://127.0.0.1:5555")
    d = sub.add_parser("deploy", help="run a policy checkpoint against a server")
    d.add_argument("--policy", default="panda_grasp", help="shipped policy name or checkpoint folder")
    d.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="server endpoint")
    d.add_argument("--episodes", type=int, default=20, help="seeded episodes")
    d.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    d.add_argument("--rate", type=float, default=20.0, help="control rate in Hz (0: as fast as the robot answers)")
    d.add_argument("--log", default="deploy_log.jsonl", help="step log (JSON lines)")
    _add_client_keys(d)
    d.add_argument("--encoder-offsets", default="", help="fitted profile (calibration/fitted/<name>.yaml) whose "
                   "joint_offset is taken out of the readings and put into the commands; the log then holds the "
                   "corrected readings, so calibrating from it fits what is left of the offsets")
    e = sub.add_parser("excite", help="record the calibration excitation from the robot behind a server")
    e.add_argument("--robot", default="panda", help="robot spec name or YAML path")
    e.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="server endpoint")
    e.add_argument("--routine", default="gravity", help="excitation routine (see simreal record --help); "
                   "'gravity', the default, holds still free postures and touches nothing")
    e.add_argument("--trajectories", type=int, default=10, help="excitation trajectories")
    e.add_argument("--seconds", type=float, default=6.0, help="robot time per trajectory in s")
    e.add_argument("--seed", type=int, default=0, help="seed: same seed, same commands")
    e.add_argument("--out", default="recording.npz", help="trajectory file to write (.npz), for simreal calibrate")
    _add_client_keys(e)
    args = parser.parse_args(argv)
    if args.verb == "serve":
        return serve_from_args(args)
    if args.verb == "excite":
        return _excite(args)
    return _deploy(args)


def _add_client_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--curve-server-key", default=None, help="the server's CURVE public certificate (.key); "
                        "needed for a server that is not on loopback")
    parser.add_argument("--curve-secret", default=None, help="this client's CURVE secret certificate "
                        "(.key_secret; default: a fresh keypair, enough for a server that admits any client)")


def _client(args: argparse.Namespace, spec: RobotSpec) -> RobotClient:
    """A RobotClient with the keys the options name; errors are BridgeError, ValueError or FileNotFoundError."""
    from simreal.bridge import RobotClient
    from simreal.bridge.auth import client_keys_from_files

    if args.curve_secret and not args.curve_server_key:
        raise ValueError("--curve-secret needs --curve-server-key (the server's public certificate)")
    auth = client_keys_from_files(args.curve_server_key, args.curve_secret) if args.curve_server_key else None
    return RobotClient(args.endpoint, spec, timeout=2.0, auth=auth)


def _deploy(args: argparse.Namespace) -> int:
    from simreal.bridge.client import BridgeError
    from simreal.deploy import deploy
    from simreal.learn.adapt import load_policy

    policy = load_policy(args.policy)
    try:
        client = _client(args, policy.spec)
    except (BridgeError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.encoder_offsets:
        from simreal.calibration.correction import EncoderCorrection, encoder_offsets_from

        try:
            offsets = encoder_offsets_from(args.encoder_offsets, policy.spec.name, policy.spec.dof)
        except (ValueError, FileNotFoundError) as error:
            client.close()
            print(f"error: {error}", file=sys.stderr)
            return 2
        client = EncoderCorrection(client, offsets)
    try:
        outcome = deploy(policy, client, args.episodes, args.seed, rate_hz=args.rate or None, log_path=args.log)
    finally:
        client.close()
    summary = {"success": outcome.result.describe(), "loop": outcome.loop_stats(),
               "safety_flags": dict(outcome.flags), "log": args.log}
    print(json.dumps(summary, indent=2))
    return 0


def _excite(args: argparse.Namespace) -> int:
    """Record the excitation over the bridge; exit 2 naming what is wrong (no server, a bad routine)."""
    from simreal import assets
    from simreal.bridge.client import BridgeError
    from simreal.calibration import record_robot
    from simreal.specs import SpecError

    try:
        spec = assets.robot_spec(args.robot)
        client = _client(args, spec)
    except (BridgeError, SpecError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        recording = record_robot(client, args.out, args.trajectories, args.seconds, args.seed, routine=args.routine)
    except (BridgeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    summary = {"recorded": args.out, "trajectories": len(recording.trajectories),
               "robot_time_s": recording.duration, "joint_torques": all(t.has_torques for t in recording.trajectories),
               "safety_flags": dict(client.flag_counts)}
    if client.flag_counts:
        summary["warning"] = ("the server's safety layer changed some commands: replaying these trajectories "
                              "misleads a fit; the torque readings (gravity, weighing) do not depend on them")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
