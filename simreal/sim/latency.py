"""CommandDelay: commands reach the motors a fixed number of control steps late."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class CommandDelay(Generic[T]):
    """A FIFO that releases each pushed command ``steps`` control steps later.

    Pushing twice within one control step replaces the first push, matching a robot
    that uses the latest target it received in a period.
    """

    def __init__(self, steps: int, hold: T) -> None:
        self.steps = steps
        self._queue: deque[T] = deque([hold] * steps)
        self._active = hold
        self._fresh = False

    def push(self, command: T) -> None:
        if self._fresh:
            self._queue[-1] = command
        else:
            self._queue.append(command)
            self._fresh = True

    def pop(self) -> T:
        """The command active for this control step (advance the queue by one)."""
        if len(self._queue) > self.steps:
            self._active = self._queue.popleft()
        self._fresh = False
        return self._active
