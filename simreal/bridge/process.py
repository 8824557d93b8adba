"""Start a bridge server for a target profile in a separate process (demo, tests)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def served_target(target: str, watchdog: float = 0.1, extra: Sequence[str] = ()) -> Iterator[str]:
    """Run ``python -m simreal.bridge serve`` for ``target`` (plus ``extra`` serve options, e.g.
    ``--driver``); yield its endpoint; stop it after."""
    command = [sys.executable, "-m", "simreal.bridge", "serve", "--target", target, "--watchdog", str(watchdog),
               *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = process.stdout.readline().strip() if process.stdout else ""
        if not endpoint.startswith("tcp://"):
            process.kill()
            _, err = process.communicate(timeout=10)
            raise RuntimeError(f"bridge server for {target!r} did not start: {err.strip()[-500:]}")
        yield endpoint
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
