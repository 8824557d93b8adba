"""``simreal bench adapt``: per target profile, how many target transitions each
adaptation method needs to reach 90 % of the in-sim success, side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .. import assets
from ..learn.adapt import METHODS, AdaptConfig, adapt


@dataclass(frozen=True)
class AdaptBenchRow:
    target: str
    method: str
    zero_shot: float
    adapted: float
    adapted_interval: tuple[float, float]
    transitions_to_threshold: float | None
    negative_transfer: bool


def measure(base: AdaptConfig, targets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
            progress: Callable[[str], None] | None = None) -> list[AdaptBenchRow]:
    """Adapt with every method to every target (the robot's shipped profiles by default)."""
    note = progress or (lambda message: None)
    if targets is None:
        targets = [name for name in assets.available("target") if assets.target_profile(name).robot == "panda"]
    rows = []
    for target in targets:
        for method in methods:
            note(f"{target}: {method}")
            report = adapt(replace(base, target=target, method=method, from_scratch=False)).report
            rows.append(AdaptBenchRow(
                target, method, report["zero_shot"]["success_rate"], report["adapted"]["success_rate"],
                tuple(report["adapted"]["interval_95"]), report["time_to_threshold"], report["negative_transfer"]))
    return rows
