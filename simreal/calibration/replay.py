"""Replay: the recorded commands, sent to a simulated robot with candidate dynamics.

Calibration compares what the robot reported with what the simulator predicts for the
same commands; this module produces the prediction. Building a PyBullet world costs far
more than a reset, so one ``Replayer`` (one SimRobot) serves every candidate: each
replay sets the dynamics and resets, which rebuilds the objects and applies the
latency queue from scratch. Sensor noise is switched off: the prediction is the
noise-free trajectory, and the noise level is estimated from the residual instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..robot import JointCommand, RobotState
from ..sim import SimRobot
from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .trajectory_file import RecordedTrajectory

NOISE_FIELDS = ("position_noise", "velocity_noise", "object_position_noise")
KEEP_OBJECT = 0.01  # m: at a restart, a simulated object this close to its perceived position stays as simulated
KEEP_FINGERS = 0.002  # m: ... and fingers this close to the read width stay as simulated
KEEP_JOINTS = 0.01  # rad: ... and an arm whose every joint is this close to the (smoothed) readings
SMOOTH = 1  # readings either side averaged into the state an arm restarts from


@dataclass(frozen=True)
class Simulated:
    """Noise-free predicted readings, shaped like the recorded ones (T + 1 rows)."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    gripper_width: np.ndarray
    object_positions: np.ndarray
    object_orientations: np.ndarray


def noise_free(dynamics: DynamicsParams) -> DynamicsParams:
    return replace(dynamics, **{name: 0.0 for name in NOISE_FIELDS})


class Replayer:
    """Owns one SimRobot and replays recorded commands on it under given dynamics."""

    def __init__(self, spec: RobotSpec, scene: SceneSpec) -> None:
        self.spec = spec
        self.robot = SimRobot(spec, scene)
        self.control_period = self.robot.control_period

    def replay(self, trajectory: RecordedTrajectory, dynamics: DynamicsParams, segment: int = 0,
               seed: int = 0) -> Simulated:
        """Simulate ``trajectory``'s commands under ``dynamics`` (noise off; ``seed`` draws what the
        dynamics leave to chance, a jittering delay).

        ``segment = 0`` replays the whole episode open loop from its reset. Otherwise
        the episode is cut into pieces of ``segment`` control steps (multiple shooting),
        each started from the recorded state: joints as read (smoothed over neighbouring
        readings; the candidate encoder offsets are removed by the robot), fingers at the
        read width, objects at their perceived poses, and the commands still in the latency
        queue. Model errors then cannot compound over the episode, and contact events far
        back cannot flip the whole prediction: the cost is far smoother in the parameters.
        An arm, fingers and objects that still agree with the readings (``KEEP_JOINTS``,
        ``KEEP_FINGERS``, ``KEEP_OBJECT``) are left as simulated: readings carry noise, and a
        restart at a noisy reading kicks the drives into motion the robot never made (a
        width reading says nothing of how the two fingers share it, so teleporting a squeezed
        cube to them shoves it through the fingers)."""
        robot = self.robot
        robot.set_dynamics(noise_free(dynamics))
        first = robot.reset(trajectory.reset_request(), seed=seed)
        names = trajectory.object_names if trajectory.has_objects else ()
        commands = [JointCommand(q, float(g)) for q, g in zip(trajectory.commands, trajectory.gripper_commands,
                                                                strict=True)]
        hold = JointCommand(np.asarray(self.spec.home, dtype=float), self.spec.gripper.max_width)
        latency = dynamics.latency_steps
        states = [first]
        for t, command in enumerate(commands):
            if segment and t and t % segment == 0:
                pending = [commands[k] if k >= 0 else hold for k in range(t - latency, t)]
                joints = self._joints(trajectory, states[-1], t)
                width, objects = self._width(trajectory, states[-1], t), self._objects(trajectory, names, t,
                                                                                        states[-1])
                if joints is not None or width is not None or objects:
                    q, dq = joints if joints is not None else (states[-1].joint_positions,
                                                               states[-1].joint_velocities)
                    robot.set_state(q, dq, width, pending, objects)
            robot.apply(command)
            states.append(robot.step())
        rows = len(states)
        return Simulated(
            joint_positions=np.array([s.joint_positions for s in states]),
            joint_velocities=np.array([s.joint_velocities for s in states]),
            gripper_width=np.array([s.gripper_width for s in states]),
            object_positions=np.array([[s.objects[n].position for n in names] for s in states]).reshape(rows, -1, 3),
            object_orientations=np.array([[s.objects[n].orientation for n in names] for s in states]).reshape(
                rows, -1, 4),
        )

    @staticmethod
    def _joints(trajectory: RecordedTrajectory, simulated: RobotState, t: int) -> tuple | None:
        """The readings' joints and velocities at ``t``, averaged over ``SMOOTH`` readings either side
        (a restart at one noisy reading would kick the drives), or None when the simulated arm
        still agrees with them within ``KEEP_JOINTS``: it then runs on as simulated."""
        window = slice(max(t - SMOOTH, 0), t + SMOOTH + 1)
        q = trajectory.joint_positions[window].mean(axis=0)
        if np.max(np.abs(np.asarray(simulated.joint_positions) - q)) <= KEEP_JOINTS:
            return None
        return q, trajectory.joint_velocities[window].mean(axis=0)

    @staticmethod
    def _width(trajectory: RecordedTrajectory, simulated: RobotState, t: int) -> float | None:
        """The read width to restart the fingers at, or None when the simulated one agrees."""
        width = float(trajectory.gripper_width[t])
        return None if abs(simulated.gripper_width - width) <= KEEP_FINGERS else width

    def _objects(self, trajectory: RecordedTrajectory, names: tuple[str, ...], t: int,
                 simulated: RobotState) -> dict:
        """Perceived poses at step ``t`` (velocities from the previous step's) of the objects
        the simulation has lost (farther than ``KEEP_OBJECT``)."""
        out = {}
        for i, name in enumerate(names):
            position = trajectory.object_positions[t, i]
            if np.linalg.norm(simulated.objects[name].position - position) <= KEEP_OBJECT:
                continue
            velocity = (position - trajectory.object_positions[t - 1, i]) / self.control_period
            out[name] = (position, trajectory.object_orientations[t, i], velocity)
        return out

    def close(self) -> None:
        self.robot.close()
