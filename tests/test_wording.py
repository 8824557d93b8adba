"""Output written for people: help texts without docstring markup, ratios without "inf"."""

import contextlib
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

from simreal.cli import VERBS, GROUPS, _ratio, main
from simreal.learn.transfer import transfer_ratio

ROOT = Path(__file__).resolve().parents[1]
MARKUP = ("%%", "``", ":func:", ":class:", ":meth:")


def _help(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def test_every_simreal_help_reads_as_user_text():
    for words in [[], *(name.split() for name in VERBS), *([group] for group in GROUPS)]:
        text = _help(words)
        assert text.strip(), words
        assert not [m for m in MARKUP if m in text], (words, text)


@pytest.mark.parametrize("command", [[sys.executable, "-m", "simreal.bridge"],
                                     [sys.executable, str(ROOT / "scripts" / "hardware_bridge.py")]])
def test_bridge_commands_help_reads_as_user_text(command):
    text = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in text and not [m for m in MARKUP if m in text], text


def test_a_ratio_with_no_denominator_is_not_infinite():
    assert transfer_ratio([(0, 0.5), (100, 1.0)], [(0, 0.0), (100, 0.0)]) is None  # scratch never succeeded
    assert transfer_ratio([(0, 0.5), (100, 1.0)], [(0, 0.0), (100, 1.0)]) == pytest.approx(1.5)
    assert [_ratio(r) for r in (None, math.inf, math.nan, 2.0)] == ["n/a", "n/a", "n/a", "2.00"]
