"""EpisodeJournal: every episode run on a target reaches disk as it completes, so a run can resume.

A run that spends robot time (adaptation, evaluation on hardware) writes each completed
episode to its run folder: the trajectory as plain arrays (``episodes/<n>.npz``, loaded
without pickle) and one line of ``journal.jsonl`` saying which session ran it, for what
purpose, on which seed, with which head (a digest of its weights), and how it ended.

Resuming replays the run from the start: each episode the run asks for is served from the
journal instead of the robot, as long as the request matches the entry (same session,
purpose, seed and head digest). Seeded collection and single-threaded fits make the run
ask for the same episodes again; a request that does not match means the run has diverged
from its journal (other options, another machine's arithmetic) and it stops with
``JournalMismatch`` instead of mixing two runs. An episode cut short by a dropped
connection, an e-stop or Ctrl-C is not in the journal and is run again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import replacing
from .recording import Trajectory
from .robot import JointCommand, ObjectPose, ResetRequest, RobotState

JOURNAL = "journal.jsonl"


class JournalMismatch(RuntimeError):
    """The resumed run asked for an episode that is not the one its journal holds."""


@dataclass(frozen=True)
class EpisodeEntry:
    """One journal line: where the episode sat in the run and how it ended."""

    index: int
    session: str
    purpose: str
    seed: int
    head: str
    success: bool
    steps: int

    def key(self) -> tuple[str, str, int, str]:
        return self.session, self.purpose, self.seed, self.head


def module_digest(module: torch.nn.Module) -> str:
    """SHA-256 over a module's tensors, in name order: equal digests, bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def head_digest(module: torch.nn.Module) -> str:
    """A short ``module_digest`` that names a head in the journal."""
    return module_digest(module)[:16]


class EpisodeJournal:
    """The episodes of one run folder; ``replayable`` of them are served back on resume."""

    def __init__(self, folder: str | Path, resume: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        if self.path.exists() and not resume:
            raise FileExistsError(f"{self.path} exists: pass --resume to continue that run, or choose another "
                                  "--out-dir")
        if resume and not self.path.exists():
            raise FileNotFoundError(f"--resume: no run to resume in {self.folder} (no {JOURNAL})")
        (self.folder / "episodes").mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self.entries = _read_entries(self.path) if resume else []
        self.replayed = 0

    @property
    def replaying(self) -> bool:
        return self.replayed < len(self.entries)

    def replay(self, session: str, purpose: str, seed: int, head: str) -> tuple[EpisodeEntry, Trajectory] | None:
        """The journal's next episode if it is this request; None once the journal is used up."""
        if not self.replaying:
            return None
        entry = self.entries[self.replayed]
        if entry.key() != (session, purpose, seed, head):
            raise JournalMismatch(
                f"{self.path}: line {entry.index + 1} holds a {entry.purpose} episode of session {entry.session!r} "
                f"(seed {entry.seed}, head {entry.head}); the resumed run asked for a {purpose} episode of "
                f"{session!r} (seed {seed}, head {head}). The run diverged from its journal (other options or "
                "another machine); start a new --out-dir")
        self.replayed += 1
        return entry, load_trajectory(self._episode_path(entry.index))

    def append(self, session: str, purpose: str, seed: int, head: str, success: bool,
               trajectory: Trajectory) -> EpisodeEntry:
        """Write a completed episode (arrays first, then its journal line)."""
        entry = EpisodeEntry(len(self.entries), session, purpose, int(seed), head, bool(success), len(trajectory))
        save_trajectory(trajectory, self._episode_path(entry.index))
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(entry)) + "\n")
            handle.flush()
        self.entries.append(entry)
        self.replayed = len(self.entries)
        return entry

    def _episode_path(self, index: int) -> Path:
        return self.folder / "episodes" / f"{index:06d}.npz"


def _read_entries(path: Path) -> list[EpisodeEntry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = EpisodeEntry(**json.loads(line))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: line {number} is not a journal entry ({err})") from None
        if entry.index != len(entries):
            raise ValueError(f"{path}: line {number} has index {entry.index}, expected {len(entries)}")
        entries.append(entry)
    return entries


def save_trajectory(trajectory: Trajectory, path: Path) -> None:
    """A trajectory as plain arrays (``np.load(..., allow_pickle=False)`` reads it back)."""
    states = trajectory.states
    names = list(states[0].objects) if states else []
    arrays = {
        "time": np.array([s.time for s in states], dtype=float),
        "joint_positions": np.array([s.joint_positions for s in states], dtype=float),
        "joint_velocities": np.array([s.joint_velocities for s in states], dtype=float),
        "gripper_width": np.array([s.gripper_width for s in states], dtype=float),
        "commands": np.array([c.positions for c in trajectory.commands], dtype=float),
        "gripper_commands": np.array([c.gripper for c in trajectory.commands], dtype=float),
        "object_names": np.array(names, dtype=str),
        "objects": np.array([[np.concatenate((s.objects[n].position, s.objects[n].orientation,
                                              s.objects[n].half_extents)) for n in names] for s in states],
                            dtype=float).reshape(len(states), len(names), 10),
        "torques": np.array([s.joint_torques for s in states], dtype=float)
        if states and all(s.joint_torques is not None for s in states) else np.zeros((0, 0)),
        "placements": np.array(json.dumps({k: list(v) for k, v in (trajectory.request.object_placements.items()
                                                                   if trajectory.request else ())})),
    }
    with replacing(path) as tmp:
        np.savez(tmp, **arrays)


def load_trajectory(path: Path) -> Trajectory:
    with np.load(path, allow_pickle=False) as data:
        a = {k: data[k] for k in data.files}
    names = [str(n) for n in a["object_names"]]
    torques = a["torques"] if a["torques"].size else None
    states = [RobotState(float(t), a["joint_positions"][i], a["joint_velocities"][i], float(a["gripper_width"][i]),
                         {n: ObjectPose(o[:3], o[3:7], o[7:]) for n, o in zip(names, a["objects"][i], strict=True)},
                         None if torques is None else torques[i])
              for i, t in enumerate(a["time"])]
    commands = [JointCommand(p, float(g)) for p, g in zip(a["commands"], a["gripper_commands"], strict=True)]
    placements = {k: tuple(v) for k, v in json.loads(str(a["placements"])).items()}
    return Trajectory(states, commands, ResetRequest(placements) if placements else None)


def iter_entries(folder: str | Path) -> Iterator[EpisodeEntry]:
    """The journal's entries of a run folder (for reports and tools)."""
    yield from _read_entries(Path(folder) / JOURNAL)


__all__ = ["EpisodeEntry", "EpisodeJournal", "JournalMismatch", "head_digest", "iter_entries", "load_trajectory",
           "module_digest", "save_trajectory"]
