"""simreal pins the math libraries' CPU kernels before numpy loads, unless told otherwise."""

import ast
import os
import subprocess
import sys

import pytest

from simreal.kernels import PINS, UNPINNED, _runs_avx2

pytestmark = pytest.mark.skipif(not _runs_avx2(), reason="the pins apply to x86-64 Linux CPUs with AVX2 and FMA")


def _settings(code: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in PINS and k != UNPINNED}
    out = subprocess.run([sys.executable, "-c", code + "; from simreal.kernels import kernel_settings; "
                          "print(kernel_settings())"], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_importing_simreal_first_pins_the_kernels_and_says_when_it_came_too_late():
    assert _settings("import simreal") == PINS
    late = _settings("import numpy, simreal")
    assert "late" in late and "OPENBLAS_CORETYPE" not in late


def _child_settings(parent: str) -> dict:
    """The kernel settings of a child process started by a process that ran ``parent``."""
    child = ("import subprocess, sys; print(subprocess.run([sys.executable, '-c', 'import simreal; "
             "from simreal.kernels import kernel_settings; print(kernel_settings())'], capture_output=True, "
             "text=True, check=True).stdout.strip())")
    clean = {k: v for k, v in os.environ.items() if k not in PINS and k != UNPINNED}
    out = subprocess.run([sys.executable, "-c", f"{parent}; {child}"], env=clean, capture_output=True, text=True,
                         check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_the_children_of_a_process_that_came_too_late_run_its_kernels_too():
    """Workers must compute what the process that spawned them computes: unpinned, like it."""
    assert "OPENBLAS_CORETYPE" not in _child_settings("import numpy, simreal")
    assert _child_settings("import simreal") == PINS


def test_a_kernel_choice_of_your_own_is_kept():
    assert _settings("import simreal", OPENBLAS_CORETYPE="Sandybridge")["OPENBLAS_CORETYPE"] == "Sandybridge"
