"""Robot-side safety layer: every network command is bounded before it reaches the motors.

It lives on the robot's side of the bridge because the client (a policy, possibly
buggy, possibly on a lossy link) cannot be trusted to respect limits. It bounds the
*target trajectory* the motors are given (position, speed, acceleration, braking
before the joint limits, lead over the measured position, workspace) and watches the
*measured* arm: a joint measured faster than its limit makes the layer hold (or, when
configured, ask for an e-stop). Its state is the last target and the target's
velocity, so it stays easy to reason about and to property-test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..robot import JointCommand, ResetRequest, Robot, RobotState
from ..specs import RobotSpec

DEFAULT_MAX_STEP = 0.15  # rad per tick: the control head's largest action, so the speed bound binds first
DEFAULT_BRAKING_TIME = 0.5  # s from the velocity limit to rest that braking assumes when no deceleration is given
OVERSPEED_ACTIONS = ("hold", "estop")


class TcpModel(Protocol):
    """What the workspace check needs: forward kinematics (``simreal.kinematics.Kinematics``)."""

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def _positive(name: str, value: float | tuple[float, ...] | None) -> None:
    if value is not None and not np.all(np.asarray(value, dtype=float) > 0):
        raise ValueError(f"safety {name} must be positive, got {value}")


@dataclass(frozen=True)
class SafetyConfig:
    """What the layer enforces beyond the robot spec's joint position and velocity limits.

    ``max_step`` (rad) caps any target change per tick; ``speed_fraction`` caps the
    target's speed at that fraction of each joint's velocity limit. ``acceleration``
    (rad/s^2, one value or one per joint; ``None``: no limit) bounds how fast the
    target's velocity may change from tick to tick: a stiff position servo given jumpy
    targets moves faster than its targets between two ticks, and only smooth targets
    keep its *measured* speed within the limit (see docs/bridge_protocol.md for the cost).
    ``deceleration`` (rad/s^2; ``None``: ``velocity_limit / DEFAULT_BRAKING_TIME``) is
    what braking before a joint limit assumes the joint can do. A joint *measured*
    faster than ``overspeed_factor`` x its velocity limit triggers ``overspeed_action``:
    ``hold`` (the target stops at the measured position) or ``estop`` (the server also
    latches its e-stop). ``workspace_tolerance`` (m) is how far a target's TCP may leave
    the spec's workspace box before the workspace check acts.
    """

    max_step: float = DEFAULT_MAX_STEP
    speed_fraction: float = 1.0
    acceleration: float | tuple[float, ...] | None = None
    deceleration: float | tuple[float, ...] | None = None
    overspeed_factor: float = 1.0
    overspeed_action: str = "hold"
    workspace_tolerance: float = 1e-6

    @classmethod
    def smooth(cls, spec: RobotSpec, ramp_time: float = 0.8, speed_fraction: float = 0.6,
               **options: object) -> SafetyConfig:
        """Smooth targets: at most ``speed_fraction`` of each joint's velocity limit, reached no
        faster than from rest to the full limit in ``ramp_time`` s (an acceleration limit of
        ``velocity_limit / ramp_time``). For arms whose *measured* speed must stay within its
        limit whatever the client sends; the cost is slower motion (docs/bridge_protocol.md)."""
        if not ramp_time > 0:
            raise ValueError(f"safety ramp_time must be positive, got {ramp_time}")
        acceleration = tuple(float(v) for v in np.asarray(spec.velocity_limits) / ramp_time)
        return cls(speed_fraction=speed_fraction, acceleration=acceleration, **options)

    def __post_init__(self) -> None:
        for name in ("max_step", "speed_fraction", "acceleration", "deceleration", "overspeed_factor"):
            _positive(name, getattr(self, name))
        if not self.speed_fraction <= 1.0:
            raise ValueError(f"safety speed_fraction must be at most 1, got {self.speed_fraction}")
        if not self.workspace_tolerance >= 0:
            raise ValueError(f"safety workspace_tolerance must be non-negative, got {self.workspace_tolerance}")
        if self.overspeed_action not in OVERSPEED_ACTIONS:
            raise ValueError(f"safety overspeed_action must be one of {OVERSPEED_ACTIONS}, "
                             f"got {self.overspeed_action!r}")


def _bounded(value: np.ndarray, low: np.ndarray, high: np.ndarray, flag: str | np.ndarray,
             flags: set[str]) -> np.ndarray:
    """``value`` clipped to ``[low, high]``; where that moved it (beyond rounding), add ``flag``
    (one name, or one per joint)."""
    clipped = np.clip(value, low, high)
    if (clipped != value).any():
        moved = np.abs(clipped - value) > 1e-9
        if moved.any():
            flags.update(np.broadcast_to(np.asarray(flag), moved.shape)[moved].tolist())
    return clipped


def braking_speed(distance: np.ndarray, acceleration: np.ndarray, period: float) -> np.ndarray:
    """Largest speed (rad/s) a target may move towards a limit ``distance`` away (rad) for one
    period and still stop before it decelerating at ``acceleration``: the positive root of
    ``u * period + u**2 / (2 * acceleration) = distance``."""
    d = np.maximum(distance, 0.0)
    return acceleration * (np.sqrt(period * period + 2.0 * d / acceleration) - period)


class SafetyLayer:
    """Bounds each tick's joint target; see the module docstring and docs/bridge_protocol.md.

    Per tick and joint, in order: non-finite values are replaced by the last target;
    the target is clipped to the joint limits; the target's velocity is limited to
    ``speed_fraction`` x the velocity limit (and ``max_step`` per tick), its change to
    ``acceleration x period`` (when set), and towards a limit to the braking speed at
    the target's and the measured position's distance from it; the target may lead the measured position by at most
    ``min(max_step, velocity_limit x period)`` (a blocked arm cannot wind up a target it
    would later jump to); with ``kinematics``, a target whose TCP leaves the workspace
    box further than the last target's is replaced by the last one. A joint measured
    over speed makes the whole arm hold at its measured position. Every intervention is
    reported as a flag.
    """

    def __init__(self, spec: RobotSpec, control_period: float, config: SafetyConfig | None = None,
                 kinematics: TcpModel | None = None) -> None:
        if control_period <= 0:
            raise ValueError(f"control_period must be positive, got {control_period}")
        self.config = config or SafetyConfig()
        self.spec = spec
        self.period = float(control_period)
        self.lower, self.upper = np.asarray(spec.lower, float), np.asarray(spec.upper, float)
        self.velocity_limit = np.asarray(spec.velocity_limits, dtype=float)
        self.max_width = float(spec.gripper.max_width)
        accel, decel = self.config.acceleration, self.config.deceleration
        self.acceleration = (np.full_like(self.lower, np.inf) if accel is None
                             else np.broadcast_to(np.asarray(accel, dtype=float), self.lower.shape).copy())
        self.deceleration = (self.velocity_limit / DEFAULT_BRAKING_TIME if decel is None
                             else np.broadcast_to(np.asarray(decel, dtype=float), self.lower.shape).copy())
        velocity_step = self.velocity_limit * self.period
        self.step_bound = np.minimum(self.config.max_step, velocity_step)
        self._speed_bound = np.minimum(self.step_bound / self.period, self.config.speed_fraction * self.velocity_limit)
        self._velocity_binds = self._speed_bound * self.period < self.config.max_step
        self._speed_flags = np.where(self._velocity_binds, "clamped_velocity", "clamped_step")
        self._overspeed_at = self.config.overspeed_factor * self.velocity_limit
        self.kinematics = kinematics
        self.workspace_low = np.asarray(spec.workspace_low, dtype=float)
        self.workspace_high = np.asarray(spec.workspace_high, dtype=float)
        self.last_target: np.ndarray | None = None
        self.last_gripper: float | None = None
        self._target_velocity = np.zeros_like(self.lower)

    def reset(self) -> None:
        """Forget the last target (after a robot reset the arm is somewhere new, at rest)."""
        self.last_target = None
        self.last_gripper = None
        self._target_velocity = np.zeros_like(self.lower)

    # ----- measured state -----
    def _measured(self, state: RobotState) -> tuple[np.ndarray, np.ndarray]:
        """Measured positions and velocities, made finite (a wild sensor cannot poison the bounds)."""
        fallback = self.last_target if self.last_target is not None else (self.lower + self.upper) / 2
        q = np.asarray(state.joint_positions, dtype=float).reshape(-1)
        if q.shape != self.lower.shape:
            raise ValueError(f"state has {q.size} joint positions, the robot has {self.lower.size}")
        q = np.where(np.isfinite(q), np.clip(q, -1e3, 1e3), fallback)
        v = np.asarray(state.joint_velocities, dtype=float).reshape(-1)
        v = np.where(np.isfinite(v), v, np.inf) if v.shape == q.shape else np.full_like(q, np.inf)
        return q, v

    def overspeed(self, state: RobotState) -> bool:
        """Whether any joint is measured faster than the configured factor of its velocity limit
        (a non-finite velocity counts as over speed)."""
        return self._too_fast(self._measured(state)[1])

    def _too_fast(self, v: np.ndarray) -> bool:
        return bool((np.abs(v) > self._overspeed_at).any())

    # ----- the filter -----
    def filter(self, command: JointCommand, measured: RobotState) -> tuple[JointCommand, frozenset[str]]:
        """The command that may be sent to the robot this tick, and the flags explaining changes."""
        flags: set[str] = set()
        q, v = self._measured(measured)
        if self._too_fast(v):
            flags.add("overspeed")
            return self._hold_at(q, measured), frozenset(flags)
        previous = self.last_target if self.last_target is not None else np.clip(q, self.lower, self.upper)
        wanted = self._wanted(command, previous, flags)
        target = self._shape(wanted, previous, q, v, flags)
        if self.kinematics is not None and self._leaves_workspace(target, previous):
            flags.add("workspace")
            target = np.clip(previous, q - self.step_bound, q + self.step_bound)
            target = np.clip(target, self.lower, self.upper)
        gripper = self._gripper(command.gripper, flags)
        self._target_velocity = (target - previous) / self.period
        self.last_target, self.last_gripper = target, gripper
        return JointCommand(target.copy(), gripper), frozenset(flags)

    def _wanted(self, command: JointCommand, previous: np.ndarray, flags: set[str]) -> np.ndarray:
        target = np.asarray(command.positions, dtype=float).reshape(-1)
        if target.shape != previous.shape:
            raise ValueError(f"command has {target.size} joint targets, the robot has {previous.size}")
        if not np.all(np.isfinite(target)):
            flags.add("nonfinite")
            target = np.where(np.isfinite(target), target, previous)
        clipped = np.clip(target, self.lower, self.upper)
        if np.any(clipped != target):
            flags.add("clamped_position")
        return clipped

    def _shape(self, wanted: np.ndarray, previous: np.ndarray, q: np.ndarray, v: np.ndarray,
               flags: set[str]) -> np.ndarray:
        """Speed, acceleration, braking and lead bounds on the step from ``previous``."""
        period, speed, speed_flag = self.period, self._speed_bound, self._speed_flags
        u = _bounded((wanted - previous) / period, -speed, speed, speed_flag, flags)
        if self.config.acceleration is not None:
            change = self.acceleration * period
            u = _bounded(u, self._target_velocity - change, self._target_velocity + change, "clamped_acceleration",
                         flags)
        # distances to the upper limit (target, measured) and from the lower one, braked in one call
        room = braking_speed(np.array((self.upper - previous, self.upper - q, previous - self.lower,
                                       q - self.lower)), self.deceleration, period)
        up, down = np.minimum(room[0], room[1]), np.minimum(room[2], room[3])
        u = _bounded(u, -down, up, "braking", flags)
        if np.any((v > up) | (-v > down)):
            flags.add("braking")  # the arm itself moves towards a limit faster than it could stop there
        target = previous + u * period
        lead = self.step_bound
        target = _bounded(target, q - lead, q + lead, speed_flag, flags)
        return np.clip(target, self.lower, self.upper)

    def _workspace_excess(self, q: np.ndarray) -> float:
        """How far (m) the TCP for joints ``q`` lies outside the workspace box; 0 inside."""
        assert self.kinematics is not None
        position = np.asarray(self.kinematics.tcp_pose(q)[0], dtype=float)
        outside = np.maximum(self.workspace_low - position, 0.0) + np.maximum(position - self.workspace_high, 0.0)
        return float(np.linalg.norm(outside))

    def _leaves_workspace(self, target: np.ndarray, previous: np.ndarray) -> bool:
        excess = self._workspace_excess(target)
        return excess > self.config.workspace_tolerance and excess > self._workspace_excess(previous) + 1e-9

    def _gripper(self, value: float, flags: set[str]) -> float:
        value = float(value)
        if not np.isfinite(value):
            flags.add("nonfinite")
            return self.last_gripper if self.last_gripper is not None else self.max_width
        clamped = min(max(value, 0.0), self.max_width)
        if clamped != value:
            flags.add("gripper_clamped")
        return clamped

    # ----- holding -----
    def _hold_at(self, q: np.ndarray, measured: RobotState) -> JointCommand:
        target = np.clip(q, self.lower, self.upper)
        gripper = self.last_gripper
        if gripper is None:
            width = float(measured.gripper_width)
            gripper = min(max(width, 0.0), self.max_width) if np.isfinite(width) else self.max_width
        self.last_target, self.last_gripper = target, gripper
        self._target_velocity = np.zeros_like(target)
        return JointCommand(target.copy(), gripper)

    def hold(self, measured: RobotState) -> JointCommand:
        """A hold command at the measured position (clipped to limits), keeping the last gripper
        target so a watchdog or e-stop never drops a grasped object; becomes the last target."""
        q, _ = self._measured(measured)
        return self._hold_at(q, measured)




class GuardedRobot:
    """A Robot whose every command passes a SafetyLayer first: the bridge server's filtering,
    in-process (tests, and evaluating a policy as the robot side of a bridge would run it).
    ``flags`` holds the flags of the last command, ``flag_counts`` their totals."""

    def __init__(self, robot: Robot, config: SafetyConfig | None = None, kinematics: TcpModel | None = None) -> None:
        self.robot = robot
        self.spec = robot.spec
        self.control_period = robot.control_period
        self.layer = SafetyLayer(robot.spec, robot.control_period, config, kinematics)
        self.flags: frozenset[str] = frozenset()
        self.flag_counts: Counter[str] = Counter()
        self._state: RobotState | None = None

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        self.layer.reset()
        self._state = self.robot.reset(request, seed=seed)
        return self._state

    def apply(self, command: JointCommand) -> None:
        if self._state is None:
            raise RuntimeError("reset the robot before commanding it")
        filtered, self.flags = self.layer.filter(command, self._state)
        self.flag_counts.update(self.flags)
        self.robot.apply(filtered)

    def step(self) -> RobotState:
        self._state = self.robot.step()
        return self._state

    def close(self) -> None:
        self.robot.close()


__all__ = ["DEFAULT_MAX_STEP", "OVERSPEED_ACTIONS", "GuardedRobot", "SafetyConfig", "SafetyLayer", "TcpModel",
           "braking_speed"]
