"""Silence C-level prints (PyBullet's banner and URDF importer warnings)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the process's stdout and stderr file descriptors to /dev/null for the block."""
    fds = [1, 2]  # the OS-level descriptors, whatever sys.stdout is (pytest swaps it)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    try:
        with open(os.devnull, "w") as devnull:
            for fd in fds:
                os.dup2(devnull.fileno(), fd)
            yield
            _flush_c_stdio()
    finally:
        for fd, copy in zip(fds, saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers so buffered prints land in /dev/null, not after the block."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
