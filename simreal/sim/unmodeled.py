"""CommandPath: the effects between a command and the motors that no simulator field models.

A Robot wrapper, so it works on any engine. Each control step it decides which command
the robot acts on and what target that command becomes:

1. The link (``latency_jitter``, ``drop_rate``): a command is lost with probability
   ``drop_rate``; otherwise it arrives after a delay drawn uniformly from 0 to
   ``latency_jitter`` steps. The robot acts on the newest command that has arrived; one
   that arrives after a newer one is discarded (a link with sequence numbers). The
   robot's own fixed ``latency_steps`` adds to this, inside the wrapped robot.
2. The interface (``quantization``): targets are rounded to multiples of the step.
3. The servo (``deadband``): a target closer than the deadband to the one held is ignored.
4. The gears (``backlash``): a play operator. The joint's target moves only once the
   command has taken up the play, so it lags each reversal by the play and rests half the
   play short of a target approached from either side.

Random draws come from a generator seeded by the reset seed (independent of the wrapped
robot's own noise), so the same seed gives the same trajectory. The effects themselves
stay private: the wrapper offers only the Robot protocol.
"""

from __future__ import annotations

import numpy as np

from ..robot import JointCommand, ResetRequest, Robot, RobotState
from ..specs.param_table import per_joint
from ..specs.unmodeled import UnmodeledEffects

SEED_SALT = 0x5EED_C0DE  # keeps the link's draws apart from the wrapped robot's noise for the same seed


class CommandPath:
    """A Robot whose commands pass a lossy, jittery link, a quantized interface, a servo
    deadband and geared joints with play before they reach the wrapped robot."""

    def __init__(self, robot: Robot, effects: UnmodeledEffects) -> None:
        dof = robot.spec.dof
        self.spec = robot.spec
        self.control_period = robot.control_period
        self.__robot = robot
        self.__backlash = per_joint(effects.backlash, dof, 0.0)
        self.__deadband = per_joint(effects.deadband, dof, 0.0)
        self.__step_size = per_joint(effects.quantization, dof, 0.0)
        self.__jitter = effects.latency_jitter
        self.__drop_rate = effects.drop_rate
        self.__rng = np.random.default_rng()
        self.__reset_state()

    def __reset_state(self) -> None:
        hold = JointCommand(np.asarray(self.spec.home, dtype=float), self.spec.gripper.max_width)
        self.__pending: JointCommand | None = None
        self.__inbox: list[tuple[int, int, JointCommand]] = []  # (arrival step, sent step, command)
        self.__active, self.__active_sent = hold, -1
        self.__held = hold.positions.copy()
        self.__gear = hold.positions.copy()
        self.__step = 0

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        state = self.__robot.reset(request, seed=seed)
        if seed is not None:
            self.__rng = np.random.default_rng([seed, SEED_SALT])
        self.__reset_state()
        return state

    def apply(self, command: JointCommand) -> None:
        self.__pending = command  # the latest command of a period is the one sent

    def step(self) -> RobotState:
        self.__send()
        self.__receive()
        self.__robot.apply(JointCommand(self.__target(self.__active.positions), self.__active.gripper))
        self.__step += 1
        return self.__robot.step()

    def close(self) -> None:
        self.__robot.close()

    def __send(self) -> None:
        command, self.__pending = self.__pending, None
        if command is None or (self.__drop_rate and self.__rng.random() < self.__drop_rate):
            return
        delay = int(self.__rng.integers(0, self.__jitter + 1)) if self.__jitter else 0
        self.__inbox.append((self.__step + delay, self.__step, command))

    def __receive(self) -> None:
        arrived = [entry for entry in self.__inbox if entry[0] <= self.__step]
        self.__inbox = [entry for entry in self.__inbox if entry[0] > self.__step]
        for _, sent, command in arrived:
            if sent > self.__active_sent:
                self.__active, self.__active_sent = command, sent

    def __target(self, positions: np.ndarray) -> np.ndarray:
        """The joint targets a command becomes: quantized, deadbanded, through the play."""
        q = np.asarray(positions, dtype=float)
        step = self.__step_size
        q = np.where(step > 0, np.round(q / np.where(step > 0, step, 1.0)) * step, q)
        moved = np.abs(q - self.__held) > self.__deadband
        self.__held = np.where(moved, q, self.__held)
        half = self.__backlash / 2
        self.__gear = np.clip(self.__gear, self.__held - half, self.__held + half)
        return self.__gear.copy()
