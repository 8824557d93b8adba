"""What every stage is handed: the recording, the robot and scene, the table of estimates so far,
one shared simulator for replays, and a place to leave notes for the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .estimates import Estimates
from .replay import Simulated
from .simulate import Simulator
from .trajectory_file import Recording

SEGMENT = 15  # control steps per multiple-shooting segment (0.75 s at 20 Hz)
Progress = Callable[[str, float], None]


@dataclass
class Context:
    recording: Recording
    spec: RobotSpec
    scene: SceneSpec
    estimates: Estimates
    workers: int | None = None
    seed: int = 0
    progress: Progress | None = None
    notes: dict = field(default_factory=dict)  # per stage name: what the report should show of it
    _simulator: Simulator | None = None

    @property
    def dynamics(self) -> DynamicsParams:
        """Nominal dynamics with the known fields and every estimate so far."""
        return self.estimates.dynamics()

    @property
    def simulator(self) -> Simulator:
        if self._simulator is None:
            self._simulator = Simulator(self.spec, self.scene, self.recording.trajectories, self.workers, SEGMENT)
        return self._simulator

    def replay(self, dynamics: DynamicsParams, indices: Sequence[int], segment: int | None = None,
               seed: int = 0) -> list[Simulated]:
        """The trajectories ``indices`` replayed under ``dynamics`` (multiple shooting by default),
        the robot reset with ``seed``."""
        return self.simulator.run(dynamics, indices, segment, seed)

    @property
    def replays(self) -> int:
        return self._simulator.calls if self._simulator is not None else 0

    def report(self, stage: str, fraction: float) -> None:
        if self.progress:
            self.progress(stage, fraction)

    def close(self) -> None:
        if self._simulator is not None:
            self._simulator.close()
            self._simulator = None
