"""Deploying a calibration: a Robot seen through its fitted encoder offsets.

An encoder offset is a bias of the joint readings (measured = true + offset), and the
robot's own controller tracks commands in that biased frame. A control head cannot undo
it: the high level reads the tool pose from the biased joints and steers the hand to the
wrong place. The fix a robotics user applies is in the driver, not the policy: subtract the
fitted offsets from every reading and add them to every command, so the policy works in
the true frame. ``EncoderCorrection`` does that for any ``Robot`` (a target in-process or
a bridge client); ``encoder_offsets_from`` reads the offsets from a fitted profile, the
``calibration/fitted/<name>.yaml`` that ``simreal calibrate`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..robot import JointCommand, ResetRequest, Robot, RobotState
from ..specs import SpecError, load_target


class EncoderCorrection:
    """``robot`` with ``offsets`` (rad, one per arm joint) taken out of its readings and put into its commands."""

    def __init__(self, robot: Robot, offsets: Sequence[float]) -> None:
        offsets = np.asarray(offsets, dtype=float)
        if offsets.shape != (robot.spec.dof,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"encoder offsets must be {robot.spec.dof} finite values (rad), "
                             f"one per arm joint of {robot.spec.name}; got {offsets.tolist()}")
        self.robot, self.offsets = robot, offsets
        self.spec, self.control_period = robot.spec, robot.control_period

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        return self._corrected(self.robot.reset(request, seed=seed))

    def apply(self, command: JointCommand) -> None:
        self.robot.apply(JointCommand(np.asarray(command.positions, dtype=float) + self.offsets, command.gripper))

    def step(self) -> RobotState:
        return self._corrected(self.robot.step())

    def close(self) -> None:
        self.robot.close()

    @property
    def last_flags(self) -> tuple[str, ...]:
        """The wrapped robot's safety flags of the last step (a bridge client's), if it reports any."""
        return tuple(getattr(self.robot, "last_flags", ()) or ())

    def _corrected(self, state: RobotState) -> RobotState:
        return replace(state, joint_positions=np.asarray(state.joint_positions, dtype=float) - self.offsets)


def encoder_offsets_from(profile: str | Path, robot_name: str, dof: int) -> np.ndarray:
    """The ``joint_offset`` of a fitted (or any target) profile YAML, checked against the robot.

    A profile without offsets is an error, not zeros: correcting with nothing would
    silently deploy uncalibrated."""
    fitted = load_target(profile)
    fitted.check_robot(robot_name, dof)
    if not fitted.dynamics.joint_offset:
        raise SpecError(str(profile), "dynamics.joint_offset", None,
                        "fitted encoder offsets (calibrate with --params joint_offset)")
    return np.asarray(fitted.dynamics.joint_offset, dtype=float)
