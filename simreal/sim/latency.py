"""CommandDelay: commands reach the motors a number of control steps late, optionally with jitter."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class CommandDelay(Generic[T]):
    """Releases each pushed command ``steps`` control steps later, plus up to ``jitter`` more.

    Without jitter this is a FIFO. With jitter each command's extra delay is drawn
    uniformly from ``0 .. jitter`` steps (from ``rng``), as on a link whose packets take
    varying time: the motors use the newest command that has arrived, so a command
    overtaken by a newer one is never used. Pushing twice within one control step
    replaces the first push, matching a robot that uses the latest target it received
    in a period.
    """

    def __init__(self, steps: int, hold: T, jitter: int = 0, rng: np.random.Generator | None = None) -> None:
        if jitter and rng is None:
            raise ValueError("a jittered delay needs a random generator")
        self.steps = steps
        self.jitter = jitter
        self._rng = rng
        self._queue: deque[T] = deque([hold] * steps)
        self._active = hold
        self._fresh = False
        # jitter only: (arrival step, command) in push order, and the current step
        self._in_flight: list[tuple[int, T]] = []
        self._now = 0

    def push(self, command: T) -> None:
        if self.jitter:
            self._push_jittered(command)
        elif self._fresh:
            self._queue[-1] = command
        else:
            self._queue.append(command)
        self._fresh = True

    def _push_jittered(self, command: T) -> None:
        if self._fresh:
            self._in_flight.pop()
        extra = int(self._rng.integers(0, self.jitter, endpoint=True))
        self._in_flight.append((self._now + self.steps + extra, command))

    def pop(self) -> T:
        """The command active for this control step (advance the queue by one)."""
        if self.jitter:
            arrived = [i for i, (arrival, _) in enumerate(self._in_flight) if arrival <= self._now]
            if arrived:
                newest = arrived[-1]
                self._active = self._in_flight[newest][1]
                del self._in_flight[:newest + 1]  # older commands arriving later are stale
            self._now += 1
        elif len(self._queue) > self.steps:
            self._active = self._queue.popleft()
        self._fresh = False
        return self._active
