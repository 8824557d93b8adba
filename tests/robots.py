"""Robot wrappers the tests drive adaptation through."""

from simreal.bridge import BridgeError


class CountingRobot:
    """Wraps a Robot and counts the control steps it is driven through (appending itself to
    ``log``); with ``after``, it stops answering after that many steps, as a dropped bridge
    link does."""

    def __init__(self, robot, log, after=None):
        self.robot, self.spec, self.control_period = robot, robot.spec, robot.control_period
        self.steps, self.after = 0, after
        log.append(self)

    def reset(self, request=None, *, seed=None):
        return self.robot.reset(request, seed=seed)

    def apply(self, command):
        self.robot.apply(command)

    def step(self):
        if self.after is not None and self.steps >= self.after:
            raise BridgeError("timeout", "no reply from the robot")
        self.steps += 1
        return self.robot.step()

    def close(self):
        self.robot.close()
