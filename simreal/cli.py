"""The ``simreal`` command: thin verbs over library functions.

Each verb's options are one dataclass (CleanRL style): its defaults, its field help
texts (the ``--help``), and what the run records.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import os
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from .options import option
from .robot_reference import RobotAccessOptions

DESCRIPTION = ("simreal: train a grasping policy in simulation, adapt its control head to a robot whose "
               "dynamics differ, calibrate the simulator from recorded data, and deploy over the hardware bridge. "
               "'simreal <verb> --help' lists a verb's options.")

# wide when piped to a file or CI log, where rich would otherwise squeeze tables to 80 columns
console = Console() if sys.stdout.isatty() else Console(width=160)


@dataclass
class DemoConfig:
    """Shipped source policy and scripted expert on sim and zero-shot on each target, as a table."""

    policy: str = option("panda_grasp", "shipped policy (simreal/pretrained/<name>)")
    target: str = option("weak_motors", "target profile the demo adapts the head to")
    budget: int = option(5000, "target control steps for the adaptation (collection and validation)")
    episodes: int = option(30, "seeded episodes per condition")
    seed: int = option(0, "seed of the first episode (episode i uses seed + i)")
    out_dir: str = option("runs/demo", "folder for the clip (zero-shot and adapted side by side)")


@dataclass
class ExpertConfig:
    """Success rate of the scripted expert on one env, with a 95 % Wilson interval."""

    env: str = option("simreal/PandaGrasp-v0", "registered env id")
    randomization: str = option("default", "randomization file name, or 'none' for nominal dynamics")
    target: str = option("", "target profile to run on instead (name or YAML path)")
    episodes: int = option(200, "seeded episodes")
    seed: int = option(1000, "seed of the first episode")
    predictive: bool = option(False, "the predictive expert over the reference controller, the pair simreal "
                                     "train imitates, instead of the plain expert over differential IK")


@dataclass
class BenchEnvConfig:
    """Control steps/s of the grasp env against PyBullet's raw stepping, side by side."""

    env: str = option("simreal/PandaGrasp-v0", "registered env id")
    steps: int = option(3000, "control steps per timing")
    seed: int = option(0, "seed for actions and randomization")


def _add_options(parser: argparse.ArgumentParser, config: type) -> None:
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        text = f"{f.metadata['help']} (default: {f.default})".replace("%", "%%")
        flag = f"--{f.name.replace('_', '-')}"
        if hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=text)
        else:
            parser.add_argument(flag, type=hints[f.name], default=f.default, help=text)


def _config(config: type, args: argparse.Namespace) -> Any:
    return config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config)})


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _rate(result: Any) -> str:
    low, high = result.interval
    return f"{result.success_rate:.1%} [{low:.1%}, {high:.1%}]"


def run_demo(cfg: DemoConfig) -> int:
    from pathlib import Path

    from . import pretrained
    from .demo import clip_seed, run_adaptation, write_comparison_clip
    from .demo import run_demo as demo

    with console.status("evaluating") as status:
        rows = demo(cfg.policy, cfg.episodes, cfg.seed, progress=lambda c: status.update(f"evaluating: {c}"))
        report, deployed, adapted = run_adaptation(
            cfg.policy, cfg.target, cfg.episodes, cfg.budget, cfg.seed,
            progress=lambda message: status.update(f"{cfg.target}: {message}"))
        status.update("writing the side-by-side clip")
        source = pretrained.load(cfg.policy)
        seed = clip_seed(source, adapted, cfg.target, range(cfg.seed, cfg.seed + min(cfg.episodes, 10)))
        clip = write_comparison_clip(source, adapted, cfg.target, seed, Path(cfg.out_dir) / "side_by_side.gif")
    console.print(_table(
        f"1. Grasp-and-lift success, {cfg.episodes} seeded episodes each (95% Wilson interval)",
        ["condition", "source policy (learned high level + head)", "scripted expert + IK"],
        [(r.condition, _rate(r.policy), _rate(r.expert)) for r in rows],
    ))
    verdict = f"{report['adaptation']['kept']['name']}; {report['verdict']}"
    steps = report["adaptation"]["steps"]
    loop = deployed.loop_stats()
    console.print(_table(
        f"2. {cfg.target}: adapt the control head (high level frozen, relabel), deploy over the bridge",
        ["stage", "success on the target", "notes"],
        [("source policy, zero-shot", _rate_dict(report["zero_shot"]), "in-process"),
         (f"adapted head ({verdict})", _rate_dict(report["final"]),
          f"in-process, {steps['total']:,} target steps ({steps['collection']:,} collection, "
          f"{steps['validation']:,} validation)"),
         ("adapted policy over the bridge", _rate(deployed.result),
          f"server in another process; loop p50 {loop['p50_ms']:.1f} ms, p99 {loop['p99_ms']:.1f} ms; "
          f"safety flags {dict(deployed.flags) or 'none'}")],
    ))
    console.print(f"clip: {clip} (target {cfg.target}, episode seed {seed}; left zero-shot, right adapted)")
    return 0


def run_expert(cfg: ExpertConfig) -> int:
    import gymnasium as gym

    from .controllers import ReferenceIKController
    from .evaluation import evaluate
    from .policy import ScriptedGraspExpert

    kwargs: dict[str, Any] = {"randomization": None if cfg.randomization == "none" else cfg.randomization}
    if cfg.target:
        kwargs = {"randomization": None, "target": cfg.target}
    controller = {"controller": ReferenceIKController} if cfg.predictive else {}
    env = gym.make(cfg.env, **kwargs, **controller)
    with console.status(f"{cfg.episodes} episodes of {cfg.env}"):
        result = evaluate(env, ScriptedGraspExpert(predictive=cfg.predictive), cfg.episodes, cfg.seed)
    env.close()
    which = "predictive expert, reference controller" if cfg.predictive else "expert, differential IK"
    console.print(f"{cfg.env} {kwargs}, {which}: success {result.describe()}, mean steps {result.mean_length:.1f}")
    return 0


@dataclass
class EvaluateConfig(RobotAccessOptions):
    """Success of a policy (shipped name or checkpoint folder) on a target or in simulation."""

    policy: str = option("panda_grasp", "shipped policy name or checkpoint folder")
    target: str = option("", "the robot: a target profile (name or YAML path) or a bridge endpoint "
                             "(tcp://host:port); empty = simulation")
    randomization: str = option("default", "randomization in simulation (name, path or 'none'); unused with --target")
    episodes: int = option(100, "seeded episodes")
    seed: int = option(3_000_000, "seed of the first episode (the adaptation report's evaluation seeds)")
    encoder_offsets: str = option("", "fitted profile (calibration/fitted/<name>.yaml) whose joint_offset corrects "
                                      "the target's readings and commands; needs --target")
    video: str = option("", "write a clip of the first evaluated episode(s) here (.gif or .mp4); empty = none")
    video_episodes: int = option(1, "episodes the clip shows (the first ones evaluated)")
    video_every: int = option(2, "keep one frame every this many control steps (smaller clip, fewer fps)")
    backend: str = option("serial", "where the episodes run: 'serial' (here), a local process 'pool' or 'ray' "
                                    "(pip install 'simreal[ray]'); the seeds are split in one chunk per worker "
                                    "and the result is the serial one, bit for bit")
    workers: int = option(2, "pool / ray: chunks of episodes run at once (processes, or CPUs of a local Ray)")
    ray_address: str = option("", "ray: address of an existing Ray cluster (empty: start a local one)")


def run_evaluate(cfg: EvaluateConfig) -> int:
    if cfg.backend != "serial":
        return _evaluate_in_chunks(cfg)
    from .bridge.client import BridgeError
    from .evaluation import evaluate
    from .learn.adapt import load_policy
    from .policy_evaluation import evaluation_env
    from .video import VIDEO_SIZE, FrameRecorder, check_video_name, write_video

    policy = load_policy(cfg.policy)
    if cfg.video:
        try:
            check_video_name(cfg.video)
            if cfg.video_episodes < 1 or cfg.video_every < 1:
                raise ValueError(f"--video-episodes and --video-every must be at least 1, got "
                                 f"{cfg.video_episodes} and {cfg.video_every}")
        except ValueError as err:
            return _data_error(err)
    frames = ({"render_mode": "rgb_array", "render_width": VIDEO_SIZE[0], "render_height": VIDEO_SIZE[1]}
              if cfg.video else {})
    try:
        env = evaluation_env(policy, cfg.target, cfg.randomization, cfg.encoder_offsets, cfg.access(), **frames)
        recorder = FrameRecorder(env, cfg.video_episodes, cfg.video_every) if cfg.video else None
        try:
            with console.status(f"{cfg.episodes} episodes"):
                result = evaluate(env, policy.act, cfg.episodes, cfg.seed, observe=recorder)
            period = env.unwrapped.robot.control_period
        finally:
            env.close()
    except (ValueError, BridgeError) as err:
        return _data_error(err)
    _print_evaluation(cfg, result)
    if recorder is not None:
        write_video(recorder.frames, cfg.video, fps=recorder.fps(period))
        console.print(f"clip of {min(cfg.video_episodes, cfg.episodes)} episode(s), {len(recorder.frames)} frames: "
                      f"{cfg.video}")
    return 0


def _print_evaluation(cfg: EvaluateConfig, result: Any) -> None:
    where = f"target {cfg.target}" if cfg.target else f"simulation ({cfg.randomization})"
    if cfg.encoder_offsets:
        where += f", encoder offsets corrected by {cfg.encoder_offsets}"
    console.print(f"{cfg.policy} on {where}: success {result.describe()}, mean steps {result.mean_length:.1f}")


def _evaluate_in_chunks(cfg: EvaluateConfig) -> int:
    """The episodes' seeds split over ``cfg.workers`` processes or Ray tasks (``sweep.chunks``)."""
    from rich.markup import escape

    from .robot_reference import is_endpoint
    from .sweep.chunks import evaluate_in_chunks

    if is_endpoint(cfg.target):
        return _data_error(ValueError(f"--backend {cfg.backend}: {cfg.target} is a robot behind the bridge, one "
                                      "robot that cannot run episodes in several processes; use --backend serial"))
    if cfg.video:
        return _data_error(ValueError(f"--video records in this process; use --backend serial, not {cfg.backend}"))
    options = {"policy": cfg.policy, "target": cfg.target, "randomization": cfg.randomization,
               "encoder_offsets": cfg.encoder_offsets}
    try:
        with console.status(f"{cfg.episodes} episodes on {cfg.backend}") as status:
            run = evaluate_in_chunks(options, cfg.episodes, cfg.seed, cfg.backend, cfg.workers,
                                     cfg.ray_address or None,
                                     lambda done, total, r: status.update(f"{done}/{total} chunks of episodes"))
    except (ValueError, RuntimeError) as err:
        return _data_error(err)
    for chunk in run.failures:
        console.print(f"[bold red]chunk failed[/] ({escape(chunk.trial.label())}): {escape(chunk.error or '')}",
                      highlight=False)
    if run.result is None:
        return 1
    _print_evaluation(cfg, run.result)
    if run.failures:
        console.print(f"{len(run.failures)} of {len(run.chunks)} chunks failed: the rate is over "
                      f"{run.result.episodes} of {cfg.episodes} episodes")
        return 1
    return 0


def run_bench_env(cfg: BenchEnvConfig) -> int:
    from .bench.env_speed import measure

    with console.status("timing env, physics share and raw PyBullet loop"):
        speed = measure(cfg.env, cfg.steps, cfg.seed)
    rows = [
        (f"{cfg.env} (randomization on, random actions)", f"{speed.env_rate:,.0f}", "1.00"),
        ("stepSimulation only, same trajectories", f"{speed.physics_rate:,.0f}",
         f"{speed.env_rate / speed.physics_rate:.2f}"),
        ("stepSimulation only, idle arm (fresh world)", f"{speed.raw_idle_rate:,.0f}",
         f"{speed.env_rate / speed.raw_idle_rate:.2f}"),
    ]
    if speed.panda_gym_rate is not None:
        rows.append(("panda-gym PandaPickAndPlace-v3", f"{speed.panda_gym_rate:,.0f}",
                     f"{speed.env_rate / speed.panda_gym_rate:.2f}"))
    else:
        rows.append(("panda-gym (not installed)", "-", "-"))
    console.print(_table(f"Control steps per second ({cfg.steps} steps each)",
                         ["loop", "steps/s", "env / loop"], rows))
    return 0


def run_bench_collect(cfg: Any) -> int:
    from .bench.collect_speed import measure, parallel_ceiling

    try:
        counts = cfg.env_counts()
    except ValueError as err:
        return _data_error(err)
    import os

    load = os.getloadavg()[0]
    with console.status(f"timing collection on {', '.join(map(str, counts))} processes"):
        rows = measure(cfg, counts)
    base = {r.what: r for r in rows if r.n_envs == counts[0]}
    console.print(_table(f"Collection, env steps per second ({cfg.target} for adapt; workers warmed up first)",
                         ["collection", "processes", "env steps", "wall s", "steps/s", f"vs {counts[0]}",
                          "CPU s (all processes)", "CPU per step vs 1", "start-up s", "same data"],
                         [(r.what, str(r.n_envs), f"{r.steps:,}", f"{r.wall_s:.1f}", f"{r.rate:,.0f}",
                           f"{r.rate / base[r.what].rate:.2f}", f"{r.cpu_s:.1f}",
                           f"{r.cpu_s / r.steps / (base[r.what].cpu_s / base[r.what].steps):.2f}",
                           f"{r.startup_s:.1f}", "yes" if r.same else "NO") for r in rows]))
    most = max(counts)
    if most > 1:
        console.print(f"ceiling now: {most} processes of pure arithmetic did {parallel_ceiling(most):.2f}x the work "
                      "of one per second (other work on the machine takes cores too)")
    console.print(f"load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} "
                  "CPUs: wall-clock ratios hold for this run's share of the machine")
    return 0 if all(r.same for r in rows) else 1


def run_train(cfg: Any) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .learn.train import train

    columns = (TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("starting", total=1.0)
        result = train(cfg, progress=lambda stage, fraction: bar.update(task, description=stage, completed=fraction))
        bar.update(task, description="done", completed=1.0)
    m = result.metrics
    low, high = m["success_interval_95"]
    rows = [
        ("grasp success (held-out, randomized)", f"{m['success_rate']:.1%} [{low:.1%}, {high:.1%}]",
         f"{m['eval_episodes']} episodes"),
        ("wall time", f"{m['wall_time_s'] / 60:.1f} min", f"{m['env_steps']:,} env steps (head data + high level)"),
        ("PPO fine-tune kept", str(m["rl_kept"]), ""),
        ("checkpoint", str(result.checkpoint), ""),
    ]
    init = m.get("high_level_init")
    if init:
        rows.append(("high level from", f"{init['source']} ({init['source_robot']})",
                     f"{init['reuse']}; the control head trained anew for this robot"))
    kept = (m["head_fit"] or {}).get("kept")
    if kept:
        scores = "; ".join(f"{draw}: " + ", ".join(f"{k} {v:.0%}" for k, v in kept[draw].items())
                           for draw in ("validation", "broad") if draw in kept)
        rows.append(("head kept", kept["head"], scores))
    if "online" in m:
        o = m["online"]
        rows.append(("online policy success (sim)", f"{o['success_rate']:.1%} [{o['interval_95'][0]:.1%}, "
                     f"{o['interval_95'][1]:.1%}]", f"{o['episodes']} episodes, latent estimated in the loop"))
    rows += [(f"phase: {name}", f"{t['wall_s']:.0f} s wall", f"{t['cpu_s']:.0f} s CPU")
             for name, t in m["phases"].items()]
    for condition, t in m["tracking"].items():
        head, ik = t["head"], t["ik"]
        rows += [(f"head tracking error, {condition}", f"{head['tracking_error_mm']:.1f} mm",
                  f"IK: {ik['tracking_error_mm']:.1f} mm"),
                 (f"expert success via head, {condition}", f"{head['success_rate']:.1%}",
                  f"via IK: {ik['success_rate']:.1%}")]
    console.print(_table(f"simreal train: {cfg.robot}", ["", "value", "note"], rows))
    return 0


def run_bench_train(cfg: Any) -> int:
    from .bench.train_speed import measure

    with console.status("simreal train, then SB3 PPO (IK, no warm start) for the same wall time"):
        bench = measure(cfg)
    ours, base = bench.simreal_result, bench.baseline_result
    rows = [
        ("simreal train (relabeled head + DAgger + PPO)", f"{bench.simreal_wall_s / 60:.1f} min", _rate(ours)),
        (f"SB3 PPO, IK controller, no warm start ({bench.baseline_steps:,} steps)",
         f"{bench.baseline_wall_s / 60:.1f} min", _rate(base)),
    ]
    ratio = f"{ours.success_rate / base.success_rate:.1f}x" if base.successes else "n/a (baseline has 0 successes)"
    console.print(_table(f"Source training on {cfg.robot}, {cfg.eval_episodes} held-out randomized episodes",
                         ["method", "wall time", "success [95% interval]"], rows))
    console.print(f"success ratio simreal / PPO baseline: {ratio}")
    return 0


def run_adapt(cfg: Any) -> int:
    from .bridge.client import BridgeError
    from .episode_journal import JournalMismatch
    from .learn.adapt import RunFolder, adapt, save_outputs

    try:
        folder = RunFolder(cfg)
    except (ValueError, OSError) as err:
        return _data_error(err)
    try:
        with console.status("adapting") as status:
            result = adapt(cfg, progress=lambda message: status.update(message), folder=folder)
            paths = save_outputs(result, cfg.out_dir)
    except (ValueError, JournalMismatch) as err:  # UnsupportedPolicy too: --method online without the module
        return _data_error(err)
    except (BridgeError, KeyboardInterrupt) as err:
        return _interrupted(folder, err)
    r = result.report
    kept = r["adaptation"]["kept"]
    rows = [(label, _rate_dict(r[key])) for key, label in (
        ("in_sim", "source policy in sim (randomized)"), ("zero_shot", "zero-shot on target (source head)"),
        ("final", f"kept head: {kept['name']} ({r['method']})"),
        ("from_scratch", "from-scratch baseline, same budget")) if r[key] is not None]
    console.print(_table(f"Transfer to {r['target']['name']}: measurement for the report, not part of adapting "
                         f"({cfg.eval_episodes} seeded episodes each)", ["", "success [95% interval]"], rows))
    console.print(_table("Target control steps", ["", "collection", "validation", "total", "robot time"],
                         _step_rows(r)))
    console.print(f"kept [bold]{kept['name']}[/]: {kept['reason']}", highlight=False)
    online = r["adaptation"].get("online")
    if online:
        console.print(f"online: {online['warmup_steps']} warm-up target steps, {online['gradient_steps']} gradient "
                      f"steps; the latent estimate settled after {online['settle_time_s']:.2f} s of robot time")
    jumpstart = r["jumpstart"]
    console.print(f"jumpstart {'n/a' if jumpstart is None else f'{jumpstart:+.2f}'}; transfer ratio "
                  f"{_ratio(r['transfer_ratio'])}; report: {paths['report']}, plot: {paths['plot']}")
    if "checkpoint" in paths:
        console.print(f"adapted policy: {paths['checkpoint']}")
    flags = r["adaptation"]["safety_flags"]
    if flags:
        console.print("robot-side safety layer changed commands: " + ", ".join(f"{k} {v:,}" for k, v in
                                                                           sorted(flags.items())), highlight=False)
    style = "bold red" if r["exit_code"] else "bold green"
    console.print(f"[{style}]{r['verdict']}[/]: {r['verdict_reason']} (exit {r['exit_code']})")
    return r["exit_code"]


EXIT_INTERRUPTED = 5  # the robot stopped the run (e-stop, lost connection); 130 for Ctrl-C


def _interrupted(folder: Any, err: BaseException) -> int:
    """A run the robot or the user stopped: what happened, what is on disk, how to continue."""
    entries = folder.journal.entries
    steps = sum(e.steps for e in entries)
    if isinstance(err, KeyboardInterrupt):
        why, code = "interrupted (Ctrl-C)", 130
    elif getattr(err, "code", "") == "estopped":
        why, code = f"the robot is e-stopped ({err}); clear the e-stop on the robot side first", EXIT_INTERRUPTED
    else:
        why, code = f"the robot stopped answering or refused ({err})", EXIT_INTERRUPTED
    console.print(f"[bold red]adaptation stopped[/]: {why}. {len(entries)} completed episodes ({steps:,} target "
                  f"steps) are in {folder.root}; run the same command with --resume to continue without "
                  "running them again.", highlight=False)
    return code


def _ratio(value: float | None) -> str:
    """A ratio, or "n/a" where its denominator is zero (never "inf")."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _step_rows(report: dict) -> list[tuple[str, ...]]:
    def row(label: str, run: dict) -> tuple[str, ...]:
        steps, seconds = run["steps"], run["robot_time_s"]["total"]
        return (label, f"{steps['collection']:,}", f"{steps['validation']:,}",
                f"{steps['total']:,} of {run['budget']:,}", f"{seconds:.0f} s")

    rows = [row(f"adaptation ({report['method']})", report["adaptation"])]
    if report["baseline"] is not None:
        rows.append(row("from-scratch baseline", report["baseline"]))
    period = report["adaptation"]["control_period_s"]
    measured = report["measurement"]["target_steps"]
    rows.append(("report measurement (not part of adapting)", "-", "-", f"{measured:,}",
                 f"{measured * period:.0f} s"))
    return rows


def _rate_dict(summary: dict) -> str:
    low, high = summary["interval_95"]
    return f"{summary['success_rate']:.1%} [{low:.1%}, {high:.1%}]"


def run_bench_adapt(cfg: Any) -> int:
    if cfg.family:
        return _bench_adapt_family(cfg)
    from .bench.adapt_speed import measure, ratio_to

    try:
        with console.status("adapting") as status:
            rows = measure(cfg, cfg.target_list(), cfg.method_list(),
                           progress=lambda message: status.update(f"adapting: {message}"))
    except ValueError as err:
        return _data_error(err)
    table_rows = []
    for r, ratio in zip(rows, ratio_to(rows), strict=True):
        if r.note:  # the method cannot run on this policy
            table_rows.append((r.target, r.method, "-", "-", "n/a", "-", "-", "-", r.note))
            continue
        reached = (f"{r.steps_to_threshold:,}" if r.steps_to_threshold is not None
                   else "never" if r.validated else "not validated")
        low, high = r.adapted_interval
        table_rows.append((r.target, r.method, f"{r.in_sim:.1%}", f"{r.zero_shot:.1%}",
                           f"{r.adapted:.1%} [{low:.1%}, {high:.1%}]", reached, f"{r.steps:,}",
                           "n/a" if ratio is None else f"{ratio:.1f}x", r.verdict))
    console.print(_table(
        f"Adaptation per target (budget {cfg.budget:,} target steps, collection + validation; "
        f"{cfg.eval_episodes} seeded measurement episodes each)",
        ["target", "method", "in sim", "zero-shot", "kept head", "steps when passed", "steps spent", "vs relabel",
         "verdict"], table_rows))
    return 0


def _bench_adapt_family(cfg: Any) -> int:
    from .bench.adapt_family import measure_family, summary_lines, write_rows

    try:
        with console.status("adapting") as status:
            rows, summary = measure_family(cfg.adapt_config(), cfg.family, cfg.reach_factor,
                                           progress=lambda message: status.update(message), backend=cfg.backend,
                                           workers=cfg.workers, ray_address=cfg.ray_address or None)
    except (ValueError, RuntimeError) as err:
        return _data_error(err)
    console.print(_table(
        f"{cfg.method} over the family {cfg.family} (budget {cfg.budget:,} target steps, {cfg.validation} "
        f"validation; {cfg.eval_episodes} seeded measurement episodes each)",
        ["target", "changed", "zero-shot", "kept head", "from scratch", "steps (coll + val)", "verdict", "reach"],
        [_family_row(r) for r in rows]))
    for line in summary_lines(summary):
        console.print(line, highlight=False)
    if cfg.rows_out:
        console.print(f"rows: {write_rows(cfg.rows_out, rows, summary)}")
    return 0


def _family_row(r: Any) -> tuple[str, ...]:
    def rate(x: Any) -> str:
        from .evaluation import wilson_interval

        low, high = wilson_interval(x.successes, x.episodes)
        return f"{x.success_rate:.0%} [{low:.0%}, {high:.0%}]"

    changed = ", ".join(sorted(r.changed)) or "nothing"
    if r.reachable is None:
        reach = "-"
    elif r.recovered:
        reach = "yes (recovered)"
    else:
        reach = f"{'yes' if r.reachable else 'no'} (10x scratch {r.reach.success_rate:.0%})"
    steps = r.steps
    return (r.target, changed, rate(r.zero_shot), f"{rate(r.final)} {r.kept}",
            rate(r.from_scratch) + (" (better)" if r.scratch_better else ""),
            f"{steps['total']:,} ({steps['collection']:,} + {steps['validation']:,})", r.verdict, reach)


@dataclass
class BenchCalibrateConfig:
    """Per target profile: record the default excitation and calibrate blind. A profile the simulator can
    express is scored against its hidden truth; one it cannot (another engine, unmodeled effects) has --fields
    fitted and reports whether the fit says it explains the data."""

    family: str = option("", "folder of target profiles (simreal targets sample); empty: the shipped profiles")
    targets: str = option("", "comma-separated shipped profile names (without --family); empty = every one")
    trajectories: int = option(10, "excitation trajectories per profile")
    seconds: float = option(6.0, "robot time per trajectory (s)")
    seed: int = option(0, "excitation seed")
    workers: int = option(2, "serial: processes replaying trajectories in parallel; pool / ray: profiles "
                             "calibrated at once")
    out: str = option("", "folder to keep the recordings, fitted profiles and reports in; empty: none kept")
    closing_loop: bool = option(False, "also adapt the shipped head in each calibrated simulator and judge it "
                                       "zero-shot on the target against the source head (Panda profiles)")
    episodes: int = option(50, "seeded target episodes per head for --closing-loop")
    fields: str = option(",".join(("joint_gain_scale", "force_limit", "joint_damping", "latency_steps",
                                   "position_noise", "velocity_noise")),
                         "fields fitted on profiles outside the simulator's model class, comma-separated")
    backend: str = option("serial", "where the profiles run: 'serial' (here, each calibration on --workers "
                                    "replay processes), a local process 'pool' or 'ray' (pip install "
                                    "'simreal[ray]'; --workers profiles at once, one replay process each); the "
                                    "same numbers on each")
    ray_address: str = option("", "ray: address of an existing Ray cluster (empty: start a local one)")
    rows_out: str = option("", "also write every profile's result (or error) as JSON to this file")


def _closing_loop_rows(fits: list, episodes: int) -> list[tuple[str, ...]]:
    import numpy as np

    from .calibration.closing_loop import close_the_loop

    def rate(x: Any) -> str:
        low, high = x.interval
        return f"{x.success_rate:.0%} [{low:.0%}, {high:.0%}]"

    rows, gains = [], []
    for f in fits:
        loop = close_the_loop(f.path, f.fitted, episodes=episodes)
        gains.append(loop.gain)
        rows.append((f.profile, rate(loop.source), rate(loop.calibrated), f"{loop.gain:+.0%}"))
    rows.append(("median", "", "", f"{float(np.median(gains)):+.0%}"))
    return rows


def _verdict(c: Any, converged: bool) -> str:
    if c is None:
        return "yes" if converged else "NO"
    return f"{'yes' if c.explains else 'NO'} ({c.ratio:.2f} x noise; own {c.expected:.2f}, up to {c.limit:.2f})"


def _score_row(s: Any) -> tuple[str, ...]:
    return (s.profile, "yes" if s.passes else "no", f"{s.found}/{s.differs}", f"{s.nominal_fine}/{s.nominal}",
            f"{s.covered}/{s.identifiable}", _verdict(s.consistency, s.converged), f"{s.wall_s:.0f} s",
            f"{s.cpu_s:.0f} s", "; ".join(s.misses) or "-")


def _unmodeled_row(u: Any) -> tuple[str, ...]:
    noise = f"{u.consistency.noise_rad:.4f} rad" if u.consistency is not None else "-"
    return (u.profile, f"{u.robot_time_s:.0f} s", f"{u.record_s:.1f} s", f"{u.calibrate_s:.1f} s", str(u.replays),
            f"{u.rms_nominal:.4f} -> {u.rms_fitted:.4f} rad", noise, _verdict(u.consistency, u.explains_data),
            u.estimates_text())


def _print_blind(scores: list) -> None:
    from .calibration.bench import summarise

    total = summarise(scores)
    rows = [_score_row(s) for s in scores]
    rows.append(("all", f"{total['passing']:.0%}", "", f"{total['nominal_fine']:.1%}", f"{total['coverage']:.1%}",
                 f"{sum(s.converged for s in scores)}/{len(scores)}",
                 f"{total['median_wall_s']:.0f} s median, {total['max_wall_s']:.0f} s max",
                 f"{total['median_cpu_s']:.0f} s", ""))
    console.print(_table("Blind calibration per target profile (default routine, every field; truth hidden)",
                         ["profile", "passes", "found (differs)", "nominal fine", "within 3 sigma",
                          "explains the data", "calibrate", "cpu", "misses"], rows))


def run_bench_calibrate(cfg: BenchCalibrateConfig) -> int:
    import tempfile

    from rich.markup import escape

    from .atomic import write_json
    from .bench.calibrate_profiles import ProfileTrial, measure_profiles, results_json
    from .calibration import bench as blind

    try:
        paths = blind.members(cfg.family or None, [n for n in cfg.targets.split(",") if n])
    except (FileNotFoundError, ValueError) as err:
        return _data_error(err)
    fields = [f.strip() for f in cfg.fields.split(",") if f.strip()]
    keep = cfg.out or (tempfile.mkdtemp(prefix="simreal-bench-") if cfg.closing_loop else "")
    trial = ProfileTrial("", cfg.seed, cfg.trajectories, cfg.seconds, cfg.workers, keep, ",".join(fields))
    try:
        with console.status(f"calibrating {len(paths)} profiles ({cfg.backend})") as status:
            results = measure_profiles(paths, trial, cfg.backend, cfg.workers, cfg.ray_address or None,
                                       lambda done, total, r: status.update(f"calibrated {done}/{total} profiles"))
    except (ValueError, RuntimeError) as err:
        return _data_error(err)
    scores, unmodeled = results.scores, results.unmodeled
    if scores:
        _print_blind(scores)
    if unmodeled:
        console.print(_table(f"Calibration against robots the simulator cannot model (fitted: {', '.join(fields)})",
                             ["target", "robot time", "record", "calibrate", "replays", "joint RMS nominal -> fitted",
                              "joint noise", "fit explains the data (residual / noise; the fitted model's own "
                              "recordings)", "estimates"], [_unmodeled_row(u) for u in unmodeled]))
    for name, error in results.failed:
        console.print(f"[bold red]failed[/]: {escape(name)}: {escape(error)}", highlight=False)
    if cfg.rows_out:
        console.print(f"rows: {write_json(cfg.rows_out, results_json(results, cfg.backend, cfg.workers))}")
    if cfg.closing_loop and (scores or unmodeled):
        with console.status("closing the loop: adapting in each calibrated simulator"):
            loop = _closing_loop_rows(scores + unmodeled, cfg.episodes)
        console.print(_table(f"Zero-shot on the target over {cfg.episodes} episodes (95 % intervals): source head "
                             "(default randomization) vs head adapted in the calibrated simulator",
                             ["profile", "source", "calibrated", "gain"], loop))
    return 1 if results.failed else 0


@dataclass
class BenchBridgeConfig:
    """Round-trip latency and achieved loop rate over the bridge vs the same loop in-process."""

    policy: str = option("panda_grasp", "shipped policy name or checkpoint folder")
    target: str = option("weak_motors", "target profile served in another process")
    episodes: int = option(6, "seeded episodes per requested rate")


def run_bench_bridge(cfg: BenchBridgeConfig) -> int:
    from .bench.bridge_speed import measure, zmq_floor

    load_before = os.getloadavg()[0]
    with console.status("timing the control loop over the bridge and in-process"):
        rows = measure(cfg.policy, cfg.target, episodes=cfg.episodes)
        floor = zmq_floor()
    by_key = {(r.robot, r.where, r.requested_hz): r for r in rows}
    table_rows = []
    for robot, rate in ((robot, rate) for robot in ("simulated", "echo") for rate in (100.0, 500.0, 1000.0, None)):
        bridge, blocking = by_key[(robot, "bridge", rate)], by_key[(robot, "bridge, blocking", rate)]
        local = by_key[(robot, "in-process", rate)]
        table_rows.append((
            f"{cfg.target} (simulated)" if robot == "simulated" else "echo driver (no physics)",
            "unpaced" if rate is None else f"{rate:.0f} Hz",
            *(f"{r.achieved_hz:,.0f} Hz, {r.p50_ms:.2f} / {r.p99_ms:.2f}" for r in (bridge, blocking, local)),
            f"{bridge.p50_ms / local.p50_ms:.2f}x"))
    for r in floor:
        table_rows.append(("bare zmq echo (the floor)", "unpaced" if r.requested_hz is None else
                           f"{r.requested_hz:.0f} Hz", f"{r.achieved_hz:,.0f} Hz, {r.p50_ms:.2f} / {r.p99_ms:.2f}",
                           "-", "-", "-"))
    console.print(_table("Control loop, policy in the loop (achieved rate, loop period p50 / p99 in ms)",
                         ["robot", "requested", "bridge", "bridge, blocking wait", "in-process",
                          "p50 bridge / in-process"], table_rows))
    console.print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after: loop periods "
                  "are wall-clock time, so other work on the machine shows in the p99")
    return 0


def run_bench_latency(cfg: Any) -> int:
    from .bench.latency import measure

    try:
        delays, policies = cfg.delay_steps(), cfg.policy_pairs()
    except ValueError as err:
        return _data_error(err)
    with console.status("benchmarking") as status:
        rows = measure(policies, delays, cfg.jitter, cfg.episodes, cfg.seed, cfg.randomization,
                       progress=lambda message: status.update(message))
    names = list(rows[0].results) if rows else []
    jitter = f", jitter 0-{cfg.jitter} steps" if cfg.jitter else ""
    console.print(_table(f"Grasp success against command delay ({cfg.episodes} seeded episodes per cell, "
                         f"{cfg.randomization} randomization{jitter}; 95% Wilson intervals)",
                         ["delay", *names],
                         [(f"{r.delay_ms:.0f} ms ({r.delay_steps} steps)", *(_rate(r.results[n]) for n in names))
                          for r in rows]))
    return 0



def run_bench_online(cfg: Any) -> int:
    from .bench.online_headroom import measure

    try:
        with console.status("benchmarking") as status:
            columns = measure(cfg.policy, cfg.family, cfg.episodes, cfg.seed,
                              progress=lambda message: status.update(message))
    except (ValueError, FileNotFoundError) as err:
        return _data_error(err)
    console.print(_table(f"Online adaptation on the {cfg.family} family ({cfg.episodes} seeded robots, the same in "
                         "every column; 95% Wilson intervals)",
                         ["low level", "success", "episodes won vs head", "episodes lost vs head"],
                         [(c.name, _rate(c.result), "-" if c.name == "head" else str(c.wins),
                           "-" if c.name == "head" else str(c.losses)) for c in columns]))
    console.print("'online, true latent' is fed the encoding of each robot's real dynamics (only a simulator "
                  "knows them): the most the adaptation module could give with an exact estimate.")
    return 0

@dataclass
class TargetsSampleConfig:
    """Draw target profiles from a family (calibration/families/*.yaml) and write them to a folder."""

    family: str = option("wide", "family name or YAML path (calibration/families/)")
    robot: str = option("panda", "robot the profiles are for (name or YAML path)")
    n: int = option(20, "number of profiles")
    seed: int = option(0, "seed: member i depends on (seed, i) alone")
    out: str = option("runs/family", "folder the profiles are written to (<family>_<seed>_<i>.yaml)")


def run_targets_sample(cfg: TargetsSampleConfig) -> int:
    from .families import write_family

    try:
        paths = write_family(cfg.family, cfg.robot, cfg.n, cfg.seed, cfg.out)
    except ValueError as err:
        return _data_error(err)
    console.print(f"wrote {len(paths)} target profiles of family '{cfg.family}' for {cfg.robot} to {cfg.out}")
    return 0


@dataclass
class BenchSafetyConfig:
    """What the bridge's safety settings guarantee on a stiff simulated arm, and what they cost a policy."""

    robot: str = option("panda", "robot whose nominal (stiff) simulation takes the hostile commands")
    policy: str = option("panda_grasp", "shipped policy name or checkpoint folder driven through each setting")
    target: str = option("weak_motors", "target profile the policy runs on")
    episodes: int = option(30, "seeded policy episodes per setting")
    hostile_episodes: int = option(24, "seeded episodes of hostile commands per setting")
    seed: int = option(0, "seed of the hostile commands and the first policy episode")


def run_bench_safety(cfg: BenchSafetyConfig) -> int:
    from .bench.safety_cost import measure

    with console.status("safety settings") as status:
        rows = measure(cfg.robot, cfg.policy, cfg.target, cfg.episodes, cfg.hostile_episodes, seed=cfg.seed,
                       progress=lambda message: status.update(f"safety settings: {message}"))
    table_rows = [(r.setting, "-" if r.position_excess != r.position_excess else f"{r.position_excess:.4f} rad",
                   "-" if r.speed_ratio != r.speed_ratio else f"{r.speed_ratio:.2f}x",
                   f"{_rate(r.nominal)}, {r.nominal.mean_length:.1f} steps",
                   f"{_rate(r.policy)}, {r.policy.mean_length:.1f} steps",
                   ", ".join(f"{k} {v}" for k, v in sorted(r.flags.items())) or "-")
                  for r in rows]
    console.print(_table(f"Safety settings: {cfg.hostile_episodes} hostile episodes on a stiff {cfg.robot}; "
                         f"{cfg.policy}, {cfg.episodes} episodes each",
                         ["setting", "worst past a limit", "worst measured speed / limit", "policy in sim (nominal)",
                          f"policy on {cfg.target}", "flags there"], table_rows))
    return 0


@dataclass
class SweepConfig:
    """A grid of runs (adapt, evaluate or calibrate over any of their options) on a process pool or Ray."""

    kind: str = option("evaluate", "trial kind: adapt, evaluate or calibrate")
    grid: str = option("target=weak_motors,soft_shoulder;seed=3000000,3000100",
                       "axes, name=v1,v2 separated by ';' (every combination runs)")
    fixed: str = option("episodes=20", "options every trial shares, name=value separated by ';'")
    backend: str = option("pool", "serial, pool (local processes) or ray")
    workers: int = option(2, "parallel trials (CPUs; one each)")
    ray_address: str = option("", "address of a running Ray cluster (empty: start a local Ray)")
    compare_serial: bool = option(False, "also run the trials serially and print the wall-time ratio and "
                                         "whether every number matched")
    out: str = option("runs/sweep/sweep.json", "where the gathered results go (JSON)")


def run_sweep(cfg: SweepConfig) -> int:
    from .sweep.report import sweep_from_options

    try:
        report = sweep_from_options(cfg, progress=lambda done, total, r: console.print(
            f"[{done}/{total}] {r.trial.label()}: {'ok' if r.ok else r.error} ({r.wall_s:.1f} s)", highlight=False))
    except (ValueError, RuntimeError) as err:
        return _data_error(err)
    console.print(_table(report.title, report.columns, report.rows))
    for line in report.notes:
        console.print(line)
    return 0 if report.all_ok else 1


def run_list(_: Any) -> int:
    from . import assets, pretrained

    for kind, title in (("robot", "robots"), ("scene", "scenes"), ("target", "target profiles"),
                        ("randomization", "randomizations"), ("family", "target families"), ("maze", "mazes")):
        console.print(f"[bold]{title}[/]: {', '.join(assets.available(kind))}")
    console.print(f"[bold]policies[/]: {', '.join(pretrained.available())}")
    return 0


@dataclass
class ListConfig:
    """List the shipped robots, scenes, target profiles, randomization files, target families, mazes and policies."""


@dataclass
class SchemaConfig:
    """Print the fields of a target profile section as a Markdown table."""

    section: str = option("dynamics", "dynamics (also randomization files), mujoco (engine: mujoco) or unmodeled")


def run_schema(cfg: SchemaConfig) -> int:
    from .specs import SpecError
    from .specs.dynamics import schema_markdown
    from .specs.engine import MujocoParams
    from .specs.param_table import section_markdown
    from .specs.unmodeled import UnmodeledEffects

    tables = {"dynamics": schema_markdown, "mujoco": lambda: section_markdown(MujocoParams),
              "unmodeled": lambda: section_markdown(UnmodeledEffects)}
    if cfg.section not in tables:
        raise SpecError("command line", "--section", cfg.section, "one of " + ", ".join(tables))
    print(tables[cfg.section]())
    return 0


@dataclass
class RecordConfig(RobotAccessOptions):
    """Record the calibration excitation on a target profile (the stand-in real robot) to a .npz file."""

    target: str = option("weak_motors", "the robot: a target profile name or YAML path, or a bridge endpoint "
                                        "(tcp://host:port; its spec is --robot)")
    robot: str = option("panda", "robot spec (name or YAML path) of a bridge endpoint; a profile names its own")
    out: str = option("recordings/weak_motors.npz", "trajectory file to write (.npz)")
    trajectories: int = option(10, "excitation trajectories (10 x 6 s hold every kind the blind calibration reads)")
    seconds: float = option(6.0, "robot time per trajectory in s")
    seed: int = option(0, "seed: same seed, same commands and data")
    scene: str = option("tabletop", "scene name or YAML path")
    routine: str = option("default", "excitation: 'default' (still postures, pushes, swings, lifts, a flick and "
                                     "a weighing: what 'simreal calibrate' reads of every field) or 'gravity' "
                                     "(still free postures only, touching nothing: safe to try first over a bridge)")


@dataclass
class CalibrateConfig:
    """Fit DynamicsParams to recorded trajectories; write a fitted profile, randomization, plot and report."""

    robot: str = option("panda", "robot the data were recorded on")
    data: str = option("", "recording files (.npz from 'simreal record', .jsonl deploy logs), comma-separated")
    params: str = option("", "DynamicsParams fields to fit, comma-separated; empty: every field the data inform")
    name: str = option("fitted", "name of the fitted profile (file names in --out-dir)")
    out_dir: str = option("calibration/fitted", "folder for <name>.yaml, <name>_randomization.yaml, .png, .json")
    scene: str = option("tabletop", "scene name or YAML path")
    workers: int = option(2, "processes replaying trajectories in parallel")
    seed: int = option(0, "seed of the optimiser's starting points and the bootstrap")
    base_randomization: str = option("default", "randomization whose other ranges the narrowed file keeps "
                                                "(name, path or 'none')")
    known: str = option("", "fields measured otherwise and held fixed, name=value comma-separated (lists in "
                            "brackets), e.g. object_mass_scale=3.0 for a weighed object")


def _data_error(err: Exception) -> int:
    """Bad input: the message (escaped: it may hold '[low, high]' or paths), exit code 2."""
    from rich.markup import escape

    console.print(f"[bold red]error[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
    return 2


def run_record(cfg: RecordConfig) -> int:
    from .calibration import record
    from .specs import SpecError

    from .bridge.client import BridgeError
    from .robot_reference import is_endpoint

    try:
        with console.status("recording") as status:
            def progress(i: int, n: int) -> None:
                status.update(f"recording: trajectory {i}/{n}")

            if is_endpoint(cfg.target):
                recording = _record_over_bridge(cfg, progress)
            else:
                recording = record(cfg.target, cfg.out, cfg.trajectories, cfg.seconds, cfg.seed, cfg.scene,
                                   progress=progress, routine=cfg.routine)
    except (SpecError, FileNotFoundError, ValueError, BridgeError) as err:
        return _data_error(err)
    console.print(f"recorded {len(recording.trajectories)} trajectories, {recording.duration:.1f} s of robot time "
                  f"on {cfg.target}: {cfg.out}")
    return 0


def _record_over_bridge(cfg: RecordConfig, progress: Callable[[int, int], None]) -> Any:
    """The excitation on a robot behind the bridge (every command through its safety layer)."""
    from . import assets
    from .calibration.pipeline import record_robot
    from .robot_reference import robot_factory

    robot = robot_factory(cfg.target, assets.robot_spec(cfg.robot), access=cfg.access())[0]()
    try:
        return record_robot(robot, cfg.out, cfg.trajectories, cfg.seconds, cfg.seed, progress, cfg.routine,
                            assets.scene_spec(cfg.scene))
    finally:
        robot.close()


def run_calibrate(cfg: CalibrateConfig) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .calibration import run_calibration
    from .calibration.parameters import parse_known
    from .calibration.report import summary_rows
    from .specs import SpecError

    columns = (TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    data = [p.strip() for p in cfg.data.split(",") if p.strip()]
    params = [p.strip() for p in cfg.params.split(",") if p.strip()] or None
    try:
        known = parse_known(cfg.known)
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("starting", total=1.0)
            result = run_calibration(cfg.robot, data, params, cfg.name, cfg.out_dir, cfg.scene, cfg.workers,
                                     cfg.seed, lambda stage, f: bar.update(task, description=stage, completed=f),
                                     None if cfg.base_randomization == "none" else cfg.base_randomization,
                                     known)
    except (SpecError, FileNotFoundError, ValueError) as err:
        return _data_error(err)
    fit = result.fit
    console.print(_table(f"Calibration of {cfg.robot} from {len(result.recording.trajectories)} trajectories "
                         f"({result.recording.steps} steps)",
                         ["field", "estimate", "+- 1 sigma", "identifiable", "read by"], summary_rows(fit)))
    for line in fit.plan.describe():
        console.print(f"  stage {line}", highlight=False)
    before, after = fit.residual_before, fit.residual_after
    console.print(f"joint residual RMS: {before['joint_rms_rad']:.4f} rad (nominal) -> {after['joint_rms_rad']:.4f} "
                  f"rad (fitted); wall time {fit.wall_time_s:.0f} s, {fit.replays} replays")
    if fit.consistency is not None:
        console.print(_consistency_text(fit.consistency), highlight=False)
    for kind, path in result.paths.items():
        console.print(f"{kind}: {path}")
    if not fit.converged:
        console.print("[bold red]fit did not explain the data[/]: the joint residual is larger than the fitted "
                      "model leaves on its own recordings, so these estimates and uncertainties are not "
                      "trustworthy.")
        return 3
    return 0


def _consistency_text(c: Any) -> str:
    """The fit's verdict in words: residual, noise, their ratio, and what the fitted model's own recordings leave."""
    return (f"fitted residual {c.residual_rad:.4f} rad = {c.ratio:.2f} x the joints' noise ({c.noise_rad:.4f} rad); "
            f"recordings simulated from the fitted model leave {c.expected:.2f} x (consistent up to "
            f"{c.limit:.2f} x): {'explains' if c.explains else 'does NOT explain'} the data")


def _maze(name: str) -> Callable[[Any], int]:
    def handler(cfg: Any) -> int:
        from .maze import commands

        return getattr(commands, name)(cfg)

    return handler


@dataclass(frozen=True)
class Verb:
    """A verb: its options dataclass (or ``"module:Class"``, imported only when the verb runs,
    with its one-line ``summary`` for ``simreal --help``), and its handler."""

    config: type | str
    handler: Callable[[Any], int]
    summary: str = ""

    def options(self) -> type:
        if isinstance(self.config, str):
            module, _, name = self.config.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.config

    def help(self) -> str:
        return self.summary or (self.options().__doc__ or "").strip().splitlines()[0]


VERBS: dict[str, Verb] = {
    "demo": Verb(DemoConfig, run_demo),
    "expert": Verb(ExpertConfig, run_expert),
    "bench env": Verb(BenchEnvConfig, run_bench_env),
    "bench collect": Verb("simreal.bench.collect_speed:BenchCollectConfig", run_bench_collect,
                          "Env steps/s of vectorized collection, 1 vs 2 worker processes in one run (adaptation "
                          "and head data)."),
    "bench train": Verb("simreal.learn.train:TrainConfig", run_bench_train,
                        "Train a source policy (control head + high level) in simulation."),
    "train": Verb("simreal.learn.train:TrainConfig", run_train,
                  "Train a source policy (control head + high level) in simulation."),
    "adapt": Verb("simreal.learn.adapt:AdaptConfig", run_adapt,
                  "Adapt a policy's control head to a target robot (high level frozen)."),
    "bench adapt": Verb("simreal.bench.adapt_speed:BenchAdaptConfig", run_bench_adapt,
                        "Adapt with every method to every target profile, or one method over a family (--family "
                        "DIR)."),
    "bench bridge": Verb(BenchBridgeConfig, run_bench_bridge),
    "bench safety": Verb(BenchSafetyConfig, run_bench_safety),
    "bench calibrate": Verb(BenchCalibrateConfig, run_bench_calibrate),
    "bench latency": Verb("simreal.bench.latency:BenchLatencyConfig", run_bench_latency,
                          "Grasp success against command delay (0-200 ms by default), policies side by side with "
                          "Wilson intervals."),
    "bench online": Verb("simreal.bench.online_headroom:BenchOnlineConfig", run_bench_online,
                         "Success on a target family of the head, the online method, and the online head given "
                         "the true latent."),
    "evaluate": Verb(EvaluateConfig, run_evaluate),
    "list": Verb(ListConfig, run_list),
    "targets sample": Verb(TargetsSampleConfig, run_targets_sample),
    "sweep": Verb(SweepConfig, run_sweep),
    "schema": Verb(SchemaConfig, run_schema),
    "record": Verb(RecordConfig, run_record),
    "calibrate": Verb(CalibrateConfig, run_calibrate),
    "maze train": Verb("simreal.maze.commands:MazeTrainConfig", _maze("run_maze_train")),
    "maze transfer": Verb("simreal.maze.commands:MazeTransferConfig", _maze("run_maze_transfer")),
    "bench maze": Verb("simreal.maze.commands:BenchMazeConfig", _maze("run_bench_maze")),
}
GROUPS = {"bench": "benchmarks, each printing its figures side by side", "maze": "grid-world DQN transfer",
          "targets": "target profiles"}


def _asked(argv: Sequence[str]) -> str | None:
    """The verb ``argv`` names (one or two leading words), so only its options are built."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for count in (2, 1):
        if " ".join(words[:count]) in VERBS:
            return " ".join(words[:count])
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line; only the verb ``argv`` asks for imports its options' module."""
    parser = argparse.ArgumentParser(prog="simreal", description=DESCRIPTION)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="<verb>")
    groups: dict[str, argparse._SubParsersAction] = {}
    asked = _asked(argv)
    for name, verb in VERBS.items():
        words = name.split()
        target = verbs
        if len(words) == 2:
            if words[0] not in groups:
                group = verbs.add_parser(words[0], help=GROUPS.get(words[0], ""), description=GROUPS.get(words[0]))
                groups[words[0]] = group.add_subparsers(dest="subverb", required=True, metavar="<verb>")
            target = groups[words[0]]
        sub = target.add_parser(words[-1], help=verb.help().replace("%", "%%"),
                                description=verb.help() if name != asked else verb.options().__doc__)
        if name == asked:
            _add_options(sub, verb.options())
            sub.set_defaults(handler=verb.handler, config=verb.options())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    import simreal  # noqa: F401  (registers the envs, silences PyBullet's banner)
    from .specs import SpecError

    try:
        return args.handler(_config(args.config, args))
    except (SpecError, FileNotFoundError) as error:  # bad input: say what and where, no traceback
        return _data_error(error)


if __name__ == "__main__":
    sys.exit(main())
