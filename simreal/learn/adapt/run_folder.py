"""The run folder of an adaptation that runs on a robot: journal, config and measurements on disk.

``simreal adapt`` writes every target episode to ``<out_dir>/journal.jsonl`` and
``<out_dir>/episodes/`` as it completes (``EpisodeJournal``), its options to ``run.json``,
and each finished report measurement to ``measurements.json``. ``--resume`` reopens the
folder: the same options are required (other options would ask for other episodes), the
journal's episodes are served back instead of run again, finished measurements are read
back, and the robot is asked only for what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ...atomic import write_json
from ...episode_journal import EpisodeJournal
from ...evaluation import EvaluationResult
from .config import AdaptConfig

RUN_FILE = "run.json"
MEASUREMENTS_FILE = "measurements.json"
NOT_COMPARED = ("resume", "out_dir", "n_envs")  # options that may differ between a run and its resumption


class RunFolder:
    """An adaptation's folder: its journal and its finished measurements."""

    def __init__(self, config: AdaptConfig) -> None:
        self.root = Path(config.out_dir)
        self.journal = EpisodeJournal(self.root, resume=config.resume)
        options = {k: v for k, v in asdict(config).items() if k not in NOT_COMPARED}
        if config.resume:
            _check_same_options(self.root / RUN_FILE, options)
        else:
            write_json(self.root / RUN_FILE, {"config": options})
        path = self.root / MEASUREMENTS_FILE
        self._measured: dict[str, dict] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def measured(self, key: str, measure: Callable[[], EvaluationResult]) -> EvaluationResult:
        """The measurement ``key`` from disk if a previous attempt finished it, else measured and saved."""
        if key in self._measured:
            return EvaluationResult(**self._measured[key])
        result = measure()
        self._measured[key] = asdict(result)
        write_json(self.root / MEASUREMENTS_FILE, self._measured)
        return result


def _check_same_options(path: Path, options: dict) -> None:
    if not path.exists():
        raise FileNotFoundError(f"--resume: {path} is missing; the folder holds no adaptation run")
    stored = json.loads(path.read_text(encoding="utf-8"))["config"]
    differ = sorted(k for k in set(stored) | set(options) if stored.get(k) != options.get(k))
    if differ:
        shown = ", ".join(f"{k}: {stored.get(k)!r} -> {options.get(k)!r}" for k in differ)
        raise ValueError(f"--resume: the options differ from the run in {path.parent} ({shown}); resume with the "
                         "same options or start a new --out-dir")
