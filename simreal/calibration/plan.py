"""From a field set and a recording to an ordered plan of stages (``stages.STAGES``).

Every field goes to each stage that lists it and whose readings the recording has: the
first such stage estimates it, the later ones take over what it leaves unidentified. A
stage runs after every stage assigned a field it needs, and after the earlier stages of a
field it shares; the declared order breaks ties. Where a later stage's share would close a
loop (it needs, through others, what it refines), that share is dropped: the later stage is
only a fallback there. Fields no stage can read are reported as unread, not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

from .context import Context
from .stages import STAGES, Stage


@dataclass(frozen=True)
class Step:
    stage: Stage
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    unread: tuple[str, ...]  # fields no stage can read from this recording

    def describe(self) -> list[str]:
        lines = [f"{step.stage.name}: {', '.join(step.fields)}" for step in self.steps]
        if self.unread:
            lines.append(f"no reading in this recording: {', '.join(self.unread)}")
        return lines


def make_plan(fields: list[str], context: Context, stages: tuple[Stage, ...] = STAGES) -> Plan:
    runnable = [s for s in stages if set(s.estimates) & set(fields) and s.reads.available(context)]
    assigned = {s.name: [f for f in s.estimates if f in fields] for s in runnable}
    while True:
        order, loop = _order(runnable, assigned)
        if order is not None:
            break
        _drop_fallback(loop, assigned, runnable)
    read = {f for names in assigned.values() for f in names}
    steps = tuple(Step(s, tuple(assigned[s.name])) for s in order if assigned[s.name])
    return Plan(steps, tuple(f for f in fields if f not in read))


def _edges(runnable: list[Stage], assigned: dict[str, list[str]]) -> dict[str, set[str]]:
    """For each stage, the stages that must run before it."""
    before: dict[str, set[str]] = {s.name: set() for s in runnable}
    for k, stage in enumerate(runnable):
        mine = set(assigned[stage.name])
        for other in runnable:
            if other is stage:
                continue
            theirs = set(assigned[other.name])
            needed = theirs & (set(stage.needs) - mine)
            shared_earlier = theirs & mine and runnable.index(other) < k
            if needed or shared_earlier:
                before[stage.name].add(other.name)
    return before


def _order(runnable: list[Stage], assigned: dict[str, list[str]]) -> tuple[list[Stage] | None, list[str]]:
    """Kahn's order with the declared order as priority, or None and the stages left in a loop."""
    before = _edges(runnable, assigned)
    done: list[Stage] = []
    left = list(runnable)
    while left:
        ready = [s for s in left if before[s.name] <= {d.name for d in done}]
        if not ready:
            return None, [s.name for s in left]
        done.append(ready[0])
        left.remove(ready[0])
    return done, []


def _drop_fallback(loop: list[str], assigned: dict[str, list[str]], runnable: list[Stage]) -> None:
    """Drop the latest-declared fallback share (a field an earlier stage also estimates) that another
    stage of the loop needs."""
    primary: dict[str, str] = {}
    for stage in runnable:
        for f in assigned[stage.name]:
            primary.setdefault(f, stage.name)
    needed = {f for s in runnable if s.name in loop for f in s.needs}
    for stage in reversed(runnable):
        if stage.name not in loop:
            continue
        fallbacks = [f for f in assigned[stage.name] if primary[f] != stage.name and f in needed]
        if fallbacks:
            assigned[stage.name].remove(fallbacks[-1])
            return
    raise RuntimeError(f"the stages {', '.join(loop)} need each other's fields: no order exists")
