"""Recording what any Robot was told and what it reported, for relabeling and calibration.

``RecordingRobot`` wraps a Robot and keeps, per control step, the command that was
active and the state that followed. It works the same for a simulated robot, a
perturbed target or (later) a bridge client, which is what lets the control head be
trained in simulation and retrained on a target by one routine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .robot import JointCommand, ResetRequest, Robot, RobotState
from .specs import DynamicsParams


@dataclass
class Trajectory:
    """One episode: ``states[0]`` after reset, then ``commands[t]`` -> ``states[t + 1]``.

    ``request`` is what the reset asked for (object placements), so a replay can start
    from the same scene. ``dynamics`` are the episode's true dynamics when a simulator
    chose them (privileged: only simulated data carry them; a target's never do)."""

    states: list[RobotState] = field(default_factory=list)
    commands: list[JointCommand] = field(default_factory=list)
    request: ResetRequest | None = None
    dynamics: DynamicsParams | None = None

    def __len__(self) -> int:
        return len(self.commands)

    def first(self, steps: int) -> Trajectory:
        """The episode's first ``steps`` control steps (what it would have recorded if cut there)."""
        return Trajectory(self.states[:steps + 1], self.commands[:steps], self.request, self.dynamics)

    def joint_positions(self) -> np.ndarray:
        return np.array([s.joint_positions for s in self.states])

    def command_positions(self) -> np.ndarray:
        return np.array([c.positions for c in self.commands])


class RecordingRobot:
    """A Robot that forwards to another and records every episode as a Trajectory."""

    def __init__(self, robot: Robot) -> None:
        self.robot = robot
        self.spec = robot.spec
        self.control_period = robot.control_period
        self.trajectories: list[Trajectory] = []
        self._pending: JointCommand | None = None

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        state = self.robot.reset(request, seed=seed)
        self.trajectories.append(Trajectory(states=[state], request=request))
        self._pending = None
        return state

    def apply(self, command: JointCommand) -> None:
        self._pending = command
        self.robot.apply(command)

    def step(self) -> RobotState:
        if not self.trajectories:
            raise RuntimeError("reset() the robot before step()")
        current = self.trajectories[-1]
        previous = self._pending or (current.commands[-1] if current.commands else None)
        if previous is None:
            previous = JointCommand(current.states[-1].joint_positions, current.states[-1].gripper_width)
        state = self.robot.step()
        current.commands.append(previous)
        current.states.append(state)
        self._pending = None
        return state

    def close(self) -> None:
        self.robot.close()

    def __getattr__(self, name: str) -> object:
        # SimRobot extras (set_dynamics, world) stay reachable through the wrapper
        if name == "robot":
            raise AttributeError(name)
        return getattr(self.robot, name)

    def take(self) -> list[Trajectory]:
        """Return the recorded trajectories (non-empty ones) and start afresh."""
        done = [t for t in self.trajectories if len(t)]
        self.trajectories = []
        return done
