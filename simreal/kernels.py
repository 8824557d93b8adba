"""Pin the math libraries' CPU kernels, so the same seed gives the same numbers on other x86-64 machines.

OpenBLAS (numpy's BLAS and LAPACK) and MKL (torch's) pick their kernels by the CPU they
find: an AVX-512 machine runs other kernels than an AVX2 one, and they round differently
in the last bits. A grasp amplifies such differences (a cube that slips in one run holds
in the other), so a seeded training run on two machines drifts apart within minutes. With
both libraries told to use their AVX2 kernels, every x86-64 CPU with AVX2 and FMA (Intel
since 2013, AMD since 2015) runs the same ones. The pins are environment variables the
libraries read when they load, so ``pin_kernels`` must run before numpy and torch are
imported: ``import simreal`` does it first thing, and child processes inherit it.

A value you set yourself is never overridden (``OPENBLAS_CORETYPE=SkylakeX`` gets you
the faster kernels and machine-specific numbers back). Other architectures (ARM) keep
their libraries' own choice: numbers there are reproducible on the same kind of machine.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

PINS = {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": "AVX2"}
NEEDED_FLAGS = {"avx2", "fma"}


_late = False  # numpy was loaded before the pins were set: OpenBLAS chose by the CPU
UNPINNED = "SIMREAL_KERNELS"  # set to "unpinned" by a process that could not pin, for its children


def pin_kernels() -> dict[str, str]:
    """Set the pins where the CPU runs the pinned kernels; returns ``kernel_settings()``.

    A process that loaded numpy first runs the CPU's own kernels; it then leaves the pins
    unset and tells its child processes (``SIMREAL_KERNELS=unpinned``) to do the same, so
    that work spread over worker processes gives the numbers the process itself gives."""
    global _late
    if _runs_avx2() and os.environ.get(UNPINNED) != "unpinned":
        _late = "numpy" in sys.modules and "OPENBLAS_CORETYPE" not in os.environ
        if _late:
            os.environ[UNPINNED] = "unpinned"
        else:
            for name, value in PINS.items():
                os.environ.setdefault(name, value)
    return kernel_settings()


def kernel_settings() -> dict[str, str]:
    """The kernel settings in this process's environment (for manifests and reports); with
    ``"late"`` when numpy was imported before ``simreal``, so its kernels were not pinned."""
    found = {name: os.environ[name] for name in PINS if name in os.environ}
    return {**found, "late": "numpy was imported before simreal"} if _late else found


def _runs_avx2() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith("linux"):
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return NEEDED_FLAGS <= set(line.split(":", 1)[1].split())
    return False
