"""The bridge's command line: clean one-line errors, CURVE keys from files, the spec hash as the
doc defines it, the same serve options in both entry points, and a doc that states the code's limits."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from .scripts import hardware_bridge
from simreal import assets
from simreal.bridge import RobotClient
from simreal.bridge.__main__ import build_parser
from simreal.bridge.auth import client_keys_from_files
from simreal.bridge.protocol import MAX_ITEMS, MAX_MESSAGE_BYTES, MAX_NAME_CHARS, MAX_TEXT_CHARS
from simreal.bridge.safety import DEFAULT_BRAKING_TIME, DEFAULT_MAX_STEP
from simreal.bridge.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_PENDING, DEFAULT_MAX_SESSIONS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "bridge_protocol.md").read_text()


def _bridge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simreal.bridge", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, expected", [
    (["--endpoint", "tcp://0.0.0.0:0"], "CURVE"),
    (["--target", "no_such_robot"], "no target named 'no_such_robot'"),
    (["--curve-secret", "missing.key_secret", "--endpoint", "tcp://0.0.0.0:0"], "missing.key_secret"),
    (["--ramp-time", "-1"], "--ramp-time"),
])
def test_serve_refuses_bad_options_in_one_line(args, expected):
    result = _bridge("serve", *args)
    assert result.returncode == 2 and expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_curve_keys_from_files_serve_a_non_loopback_endpoint(tmp_path):
    assert _bridge("keys", "--out", str(tmp_path), "--name", "server").returncode == 0
    command = [sys.executable, "-m", "simreal.bridge", "serve", "--endpoint", "tcp://0.0.0.0:0",
               "--curve-secret", str(tmp_path / "server.key_secret")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("tcp://0.0.0.0:"), process.stderr.read() if process.poll() is not None else ""
        port = endpoint.rsplit(":", 1)[1]
        keys = client_keys_from_files(tmp_path / "server.key")
        client = RobotClient(f"tcp://127.0.0.1:{port}", assets.robot_spec("panda"), timeout=5.0, auth=keys)
        assert client.reset(seed=0).joint_positions.shape == (7,)
        client.close()
        deploy = hardware_bridge("deploy", "--endpoint", f"tcp://127.0.0.1:{port}", "--episodes", "1", "--rate", "0",
                                 "--log", str(tmp_path / "log.jsonl"),
                                 "--curve-server-key", str(tmp_path / "server.key"))
        assert deploy.returncode == 0 and '"success"' in deploy.stdout, deploy.stderr
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0


def test_spec_hash_is_the_sha256_of_the_canonical_json_the_doc_describes():
    result = _bridge("spec-hash", "panda", "--json")
    canonical, printed = result.stdout.strip().splitlines()
    assert printed == assets.robot_spec("panda").fingerprint()
    assert hashlib.sha256(canonical.encode()).hexdigest()[:16] == printed
    assert "spec-hash" in DOC and "sha256" in DOC.lower()


def _options_help(command: list[str]) -> str:
    """The options part of a --help text, with the endpoint default (which differs) removed."""
    text = subprocess.run([*command, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    options = " ".join(text.split("options:", 1)[1].split())
    return options.replace("tcp://127.0.0.1:5555", "<endpoint>").replace("tcp://127.0.0.1:0", "<endpoint>")


def test_both_serve_entry_points_have_the_same_options_and_defaults():
    ours = _options_help([sys.executable, "-m", "simreal.bridge"])
    script = _options_help([sys.executable, str(ROOT / "scripts" / "hardware_bridge.py")])
    assert ours == script and "--max-step" in ours and "--curve-secret" in ours
    assert vars(build_parser().parse_args(["serve"]))["max_step"] == DEFAULT_MAX_STEP


def test_the_doc_states_the_limits_the_code_enforces():
    for value in (f"{MAX_MESSAGE_BYTES:,}".replace(",", ""), str(MAX_NAME_CHARS), str(MAX_TEXT_CHARS), str(MAX_ITEMS),
                  f"{DEFAULT_MAX_STEP}", f"{DEFAULT_BRAKING_TIME}", str(DEFAULT_MAX_SESSIONS),
                  str(DEFAULT_MAX_PENDING), f"{DEFAULT_IDLE_TIMEOUT:g}", "2^63"):
        assert value in DOC, value
    for code in ("session_limit", "internal"):
        assert f"`{code}`" in DOC
    for flag in ("overspeed", "braking", "clamped_acceleration"):
        assert f"`{flag}`" in DOC
