"""Budget accounting: every control step an adaptation runs on the target, by purpose.

The budget is the total of target control steps a run may spend: collecting data and
validating heads (selection is validation). On a real arm these are the minutes that
matter, so the ledger reports them separately and as robot time at the control period.
Steps spent only to measure the result for a report are not the adaptation's and are
kept out of the ledger (they are listed in the report as measurement).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PURPOSES = ("collection", "validation")


class BudgetExceeded(RuntimeError):
    """A step was charged beyond the budget: a bug in the run's planning."""


@dataclass
class StepLedger:
    """Target control steps spent so far, per purpose, against ``budget``."""

    budget: int
    control_period: float
    spent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PURPOSES, 0))

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"the budget must be at least 1 target control step, got {self.budget}")

    @property
    def total(self) -> int:
        return sum(self.spent.values())

    @property
    def remaining(self) -> int:
        return self.budget - self.total

    def affords(self, steps: int) -> bool:
        return steps <= self.remaining

    def charge(self, purpose: str, steps: int) -> None:
        if purpose not in self.spent:
            raise ValueError(f"unknown purpose {purpose!r}; one of {', '.join(PURPOSES)}")
        self.spent[purpose] += steps
        if self.total > self.budget:
            raise BudgetExceeded(f"{self.total} target steps spent, budget {self.budget}")

    def summary(self) -> dict:
        """Steps and robot time (s) per purpose and in total, with the budget."""
        steps = {**self.spent, "total": self.total}
        return {"budget": self.budget, "control_period_s": self.control_period, "steps": steps,
                "robot_time_s": {k: round(v * self.control_period, 3) for k, v in steps.items()}}
