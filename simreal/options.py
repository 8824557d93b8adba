"""One dataclass per command (CleanRL style): defaults, ``--help`` texts and the record of a run."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def option(default: Any, help: str) -> Any:
    """A config field whose ``help`` becomes the CLI flag's help text."""
    return field(default=default, metadata={"help": help})
