"""``scripts/hardware_bridge.py`` run in the test process: the ``main()`` a fresh interpreter
runs, without a new interpreter importing torch for every call (a few seconds each). One
test still runs the script as a program (``test_deploy``), so its entry point stays covered."""

import contextlib
import functools
import importlib.util
import io
import subprocess
from pathlib import Path
from types import ModuleType

HARDWARE_BRIDGE = Path(__file__).resolve().parents[1] / "scripts" / "hardware_bridge.py"


@functools.cache
def _hardware_bridge() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hardware_bridge", HARDWARE_BRIDGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hardware_bridge(*args: str) -> subprocess.CompletedProcess:
    """``python scripts/hardware_bridge.py *args``, in this process: its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _hardware_bridge().main(list(args))
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["hardware_bridge.py", *args], code, out.getvalue(), err.getvalue())
