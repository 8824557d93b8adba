"""Excitation: short, seeded motions that make a robot's dynamics show in what it reports.

Free-space motion alone hides much of what calibration needs: a stiff position controller
tracks its targets whatever the link masses, and an encoder bias moves commands and
readings together. So a routine cycles through kinds of trajectory, each made to show
some fields to some reading (``calibration.stages`` declares which stage reads which):

- ``gravity`` and ``swing`` (``free_space``): still postures and sweeps, for the drives,
  the latency, the masses and the offsets gravity turns;
- ``push`` and ``twist`` (``pushes``): slow pushes of the cube, for the base and flange offsets;
- ``touch``, ``lift`` and ``weigh`` (``handling``): the object's friction, the grip and its mass.

The ``default`` routine (``simreal record``) holds all of them in ten 6 s trajectories: the
60 s the blind ``simreal calibrate`` needs. It starts with still postures; from then on the
robot is driven through the encoder offsets their torques read (``early_offsets``), so the
pushes and grasps land where planned. ``gravity`` records only still postures, touching
nothing: the routine to try first over a bridge. The hand's and the object's geometry come
from the robot and scene specs (``hand``), so any robot runs the same routine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ... import assets
from ...kinematics import Kinematics
from ...recording import RecordingRobot
from ...robot import ResetRequest, Robot
from ...specs import SceneSpec
from ..correction import EncoderCorrection
from ..early_offsets import early_offsets
from ..trajectory_file import Recording, from_trajectories
from .driver import SAFE_MARGIN, SPEED_FRACTION, Driver, Setting, Spent
from .free_space import hold_postures, swing
from .handling import lift, touch, weigh
from .pushes import push_probe, twist_probe

PLACEMENT_SPREAD = (0.03, 0.05)  # m, x and y: how far an episode's object placement strays from the spawn centre

ROUTINES: dict[str, Callable[[Driver, np.random.Generator], None]] = {
    "gravity": hold_postures, "swing": swing, "push": push_probe, "twist": twist_probe, "touch": touch,
    "lift": lift, "weigh": weigh}
EXCITATIONS: dict[str, tuple[str, ...]] = {  # --routine: the kinds its trajectories cycle through
    "default": ("gravity", "push", "swing", "lift", "touch", "swing", "weigh", "twist", "swing", "lift"),
    "gravity": ("gravity",),
}

__all__ = ["EXCITATIONS", "ROUTINES", "SAFE_MARGIN", "SPEED_FRACTION", "excite"]


def _driven_through_torques(recorder: RecordingRobot, kinds: list[str], scene: SceneSpec,
                            notes: dict) -> EncoderCorrection | None:
    """The recorder driven through the offsets its still postures so far read (``early_offsets``),
    or None without them. What the routine learnt of the hand's bias is forgotten: it was
    measured through the uncorrected encoders."""
    gravity = [t for k, t in zip(kinds, recorder.trajectories, strict=False) if k == "gravity" and len(t)]
    offsets = early_offsets(gravity, recorder.spec, scene, recorder.control_period)
    if offsets is None:
        return None
    notes.clear()
    notes["corrected"] = True
    return EncoderCorrection(recorder, offsets)


def excite(robot: Robot, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
           progress: Callable[[int, int], None] | None = None, routine: str | Sequence[str] = "default",
           scene: SceneSpec | None = None) -> Recording:
    """Run ``trajectories`` excitation episodes of ``seconds`` robot time each; return them recorded.

    Kinds cycle through ``EXCITATIONS[routine]`` (or ``routine`` itself, a sequence of
    ``ROUTINES`` kinds); episode ``i`` draws its object placement,
    postures and sensor-noise seed from ``(seed, i)``, so the same seed gives the same
    commands on the same robot. ``scene`` (default: tabletop) is the model of the robot's
    surroundings the routine plans in and places the object from (its spawn centre)."""
    if trajectories < 1 or seconds <= 0:
        raise ValueError(f"need at least one trajectory of positive length, got {trajectories} x {seconds} s")
    cycle = EXCITATIONS.get(routine) if isinstance(routine, str) else tuple(routine)
    if not cycle or any(kind not in ROUTINES for kind in cycle):
        raise ValueError(f"unknown excitation routine {routine!r}; choose from {', '.join(EXCITATIONS)} "
                         f"or a sequence of the kinds {', '.join(ROUTINES)}")
    scene = scene or assets.scene_spec("tabletop")
    kinds = [cycle[i % len(cycle)] for i in range(trajectories)]
    setting = Setting.of(robot.spec, scene)
    centre = (np.asarray(scene.spawn_low, dtype=float) + np.asarray(scene.spawn_high, dtype=float)) / 2
    recorder = RecordingRobot(robot)
    kin = Kinematics(robot.spec)
    steps = max(1, round(seconds / robot.control_period))
    placements, notes, driven = [], {}, recorder
    corrects = "gravity" in kinds and len(set(kinds)) > 1  # contacts follow the still postures
    try:
        for i, kind in enumerate(kinds):
            rng = np.random.default_rng([seed, i])
            xy = centre + rng.uniform(-1.0, 1.0, 2) * np.asarray(PLACEMENT_SPREAD)
            placement = {setting.obj.name: (float(xy[0]), float(xy[1]), 0.0)}
            placements.append(placement)
            state = driven.reset(ResetRequest(placement), seed=int(rng.integers(2**31)))
            driver = Driver(driven, kin, state, steps, setting, notes)
            driver.placed = np.array([xy[0], xy[1], scene.table_height + setting.obj.half_extents[2]])
            try:
                ROUTINES[kind](driver, rng)
            except Spent:
                pass
            if corrects and kind == "gravity" and i + 1 < trajectories:
                driven = _driven_through_torques(recorder, kinds, scene, notes) or driven
            if progress:
                progress(i + 1, trajectories)
    finally:
        kin.close()
    return from_trajectories(recorder.take(), robot.spec, robot.control_period, placements, kinds)
