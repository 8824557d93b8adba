#!/usr/bin/env python3
"""Hardware bridge: ``serve`` a robot (default: a simulated perturbed target) or ``deploy``
a policy checkpoint to a server at a fixed rate, logging every step.

    python scripts/hardware_bridge.py serve --target weak_motors --endpoint tcp://127.0.0.1:5555
    python scripts/hardware_bridge.py deploy --policy runs/adapt/adapted --endpoint tcp://127.0.0.1:5555

Thin over ``simreal.bridge`` and ``simreal.deploy``.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("serve", help="serve a PerturbedTarget (the stand-in real robot)")
    s.add_argument("--target", default="weak_motors", help="target profile name or YAML path")
    s.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="ZeroMQ endpoint to bind (loopback)")
    s.add_argument("--watchdog", type=float, default=0.1, help="hold after this many s without commands")
    d = sub.add_parser("deploy", help="run a policy checkpoint against a server")
    d.add_argument("--policy", default="panda_grasp", help="shipped policy name or checkpoint folder")
    d.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="server endpoint")
    d.add_argument("--episodes", type=int, default=20, help="seeded episodes")
    d.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    d.add_argument("--rate", type=float, default=20.0, help="control rate in Hz (0: as fast as the robot answers)")
    d.add_argument("--log", default="deploy_log.jsonl", help="step log (JSON lines)")
    d.add_argument("--encoder-offsets", default="", help="fitted profile (calibration/fitted/<name>.yaml) whose "
                   "joint_offset is taken out of the readings and put into the commands; the log then holds the "
                   "corrected readings, so calibrating from it fits what is left of the offsets")
    args = parser.parse_args(argv)

    from simreal.bridge.__main__ import serve

    if args.verb == "serve":
        serve(args.target, args.endpoint, args.watchdog)
        return 0
    from simreal.bridge import RobotClient
    from simreal.deploy import deploy
    from simreal.learn.adapt import load_policy

    policy = load_policy(args.policy)
    client = RobotClient(args.endpoint, policy.spec, timeout=2.0)
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


if __name__ == "__main__":
    sys.exit(main())
