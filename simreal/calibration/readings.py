"""Which trajectories of a recording carry a reading: by excitation kind and by signal."""

from __future__ import annotations

from .trajectory_file import RecordedTrajectory, Recording

MEASUREMENT_KINDS = frozenset({"gravity", "lift", "weigh"})  # read by their own stages, never replayed whole


def carries(traj: RecordedTrajectory, signals: tuple[str, ...]) -> bool:
    """Whether ``traj`` has every one of ``signals`` (``objects``, ``torques``)."""
    have = {"objects": traj.has_objects, "torques": traj.has_torques}
    return all(have[s] for s in signals)


def select(recording: Recording, kinds: tuple[str, ...] = (), signals: tuple[str, ...] = (),
           any_kind: bool = False) -> list[int]:
    """Indices of the trajectories of one of ``kinds`` carrying ``signals``. With ``any_kind``
    the kinds are a preference: without any of them, every trajectory carrying the signals
    that is no measurement (``MEASUREMENT_KINDS``: deploy logs and older recordings)."""
    ok = [i for i, t in enumerate(recording.trajectories) if carries(t, signals)]
    if not kinds:
        return ok
    chosen = [i for i in ok if recording.trajectories[i].kind in kinds]
    if chosen or not any_kind:
        return chosen
    return [i for i in ok if recording.trajectories[i].kind not in MEASUREMENT_KINDS]
