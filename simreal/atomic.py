"""Atomic file writes: a file is either its old contents or its new ones, never half written.

A crash (or Ctrl-C) in the middle of a write leaves the previous file in place, so run
folders, reports and profiles survive interruptions and resume from what is on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` when the block succeeds.

    The temporary name keeps the suffix (writers such as ``np.savez`` add one otherwise);
    on failure it is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (numpy scalars become floats)."""
    return write_text(path, json.dumps(data, indent=2, default=float))


__all__ = ["replacing", "write_json", "write_text"]
