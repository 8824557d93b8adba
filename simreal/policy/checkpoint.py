"""The checkpoint format: a directory of ``manifest.json`` plus one ``<module>.safetensors`` per module.

Why not ``torch.save``: unpickling runs whatever code the file names, so a checkpoint copied from
elsewhere could execute anything. Weights go only through safetensors (a JSON header + raw tensor
bytes), the rest is JSON; nothing is ever unpickled, and a pickle or ``torch.save`` file placed where
weights belong is refused unread.

Why atomic writes: an error or crash halfway through saving must neither leave a half-written
checkpoint nor destroy the previous one. Everything is written and fsynced in a sibling temporary
directory, then renamed into place; the old checkpoint is renamed aside first and deleted last (if the
process dies between the two renames it survives as ``.<name>.old-<random>`` next to ``<name>``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from itertools import zip_longest
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from ..envs.layout import Layout
from ..specs.robot import RobotSpec

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Blocks = tuple[tuple[str, int], ...]


class CheckpointError(ValueError):
    """Not a valid checkpoint; the message names the path and what is wrong."""


class CheckpointMismatch(CheckpointError):
    """A valid checkpoint that does not fit the robot/env it is used with."""

    def __init__(self, differences: list[str], subject: str = "checkpoint") -> None:
        self.differences = list(differences)
        self.subject = subject
        lines = "\n".join(f"  - {d}" for d in self.differences)
        super().__init__(f"{subject} does not match the env/robot it is used with:\n{lines}")

    def __reduce__(self) -> tuple:
        return (CheckpointMismatch, (self.differences, self.subject))


def _package_version() -> str:
    from .. import __version__  # late: simreal/__init__ defines it after importing subpackages

    return __version__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _is_text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_layout(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(
        isinstance(b, list | tuple) and len(b) == 2 and _is_text(b[0]) and _is_int(b[1]) and b[1] > 0 for b in v)


_TEXT = (_is_text, "a non-empty string")
_LAYOUT = (_is_layout, "a list of [name, size] pairs, size > 0")
_MAPPING = (lambda v: isinstance(v, dict), "a mapping")
_CHECKS: dict[str, tuple[Any, str]] = {  # manifest key -> (is it valid?, what was expected)
    "kind": _TEXT,
    "robot": _TEXT,
    "robot_fingerprint": _TEXT,
    "observation_layout": _LAYOUT,
    "action_layout": _LAYOUT,
    "modules": (lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and _MODULE_NAME.fullmatch(k) and isinstance(a, dict) for k, a in v.items()),
                "a mapping of module name (a simple identifier) to an architecture mapping"),
    "randomization": (lambda v: v is None or isinstance(v, dict), "a mapping or null"),
    "metrics": _MAPPING,
    "seed": (lambda v: v is None or _is_int(v), "an integer or null"),
    "command": (lambda v: isinstance(v, list | tuple) and all(isinstance(a, str) for a in v), "a list of strings"),
    "package_version": _TEXT,
    "format_version": (_is_int, "an integer"),
    "created": _TEXT,
    "extra": _MAPPING,
}


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint holds and what it was trained for; stored as ``manifest.json``."""

    kind: str
    robot: str
    robot_fingerprint: str
    observation_layout: Blocks
    action_layout: Blocks
    modules: dict[str, dict]
    randomization: dict | None
    metrics: dict
    seed: int | None
    command: tuple[str, ...]
    package_version: str = field(default_factory=_package_version)
    format_version: int = FORMAT_VERSION
    created: str = field(default_factory=_now)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["observation_layout"] = [[n, s] for n, s in self.observation_layout]
        data["action_layout"] = [[n, s] for n, s in self.action_layout]
        data["command"] = list(self.command)
        return data

    @classmethod
    def from_json(cls, data: Any, source: str) -> Manifest:
        """Validate parsed JSON; ``source`` (the file) is named in every error."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: expected a JSON object, got {type(data).__name__}")
        version = data.get("format_version", FORMAT_VERSION)  # if missing, say so below
        if version != FORMAT_VERSION:
            raise CheckpointError(f"{source}: format_version {version!r} is not supported; "
                                  f"this code (simreal {_package_version()}) reads format_version {FORMAT_VERSION}")
        known = [f.name for f in fields(cls)]
        for key in known:
            if key not in data:
                raise CheckpointError(f"{source}: key '{key}' is missing")
        for key in data:
            if key not in _CHECKS:
                raise CheckpointError(f"{source}: key '{key}' is unknown (known: {', '.join(known)})")
        for key in known:
            valid, expected = _CHECKS[key]
            if not valid(data[key]):
                shown = repr(data[key])
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                raise CheckpointError(f"{source}: key '{key}' = {shown}: expected {expected}")
        values = {**data, "command": tuple(data["command"])}
        for key in ("observation_layout", "action_layout"):
            values[key] = tuple((name, size) for name, size in data[key])
        return cls(**values)

    def describe(self) -> str:
        """A few lines for a terminal."""
        obs, act = (", ".join(f"{n}[{s}]" for n, s in lay) for lay in (self.observation_layout, self.action_layout))
        modules = "; ".join(f"{name} {arch}" for name, arch in self.modules.items())
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.metrics.items())
        return "\n".join([
            f"{self.kind} for robot '{self.robot}' (fingerprint {self.robot_fingerprint})",
            f"  observation: {obs}",
            f"  action:      {act}",
            f"  modules:     {modules or 'none'}",
            f"  metrics:     {metrics or 'none'}",
            f"  randomized:  {'yes' if self.randomization else 'no'}; seed {self.seed}",
            f"  created {self.created} by simreal {self.package_version} (format {self.format_version})"
            + (f": {' '.join(self.command)}" if self.command else ""),
        ])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    if path.is_dir() and os.name != "posix":
        return  # directories cannot be opened for fsync on Windows
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_weights(manifest: Manifest, weights: dict[str, dict[str, torch.Tensor]]) -> None:
    if set(weights) != set(manifest.modules):
        raise ValueError(f"weights have modules {sorted(weights)}, manifest.modules lists {sorted(manifest.modules)}")
    for module, tensors in weights.items():
        if not _MODULE_NAME.fullmatch(module):
            raise ValueError(f"module name {module!r} is not a simple identifier")
        for name, tensor in tensors.items():
            if not isinstance(tensor, torch.Tensor):
                raise ValueError(f"weights[{module!r}][{name!r}] is a {type(tensor).__name__}, not a torch.Tensor")
    if manifest.format_version != FORMAT_VERSION:
        raise ValueError(f"manifest.format_version is {manifest.format_version}, this code writes {FORMAT_VERSION}")


def save_checkpoint(path: str | Path, manifest: Manifest, weights: dict[str, dict[str, torch.Tensor]]) -> Path:
    """Write a checkpoint directory atomically, replacing any checkpoint already at ``path``."""
    path = Path(path).absolute()
    _check_weights(manifest, weights)
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n"  # fail early if not JSON-able
    if path.exists() and not (path.is_dir() and ((path / MANIFEST).is_file() or not any(path.iterdir()))):
        raise FileExistsError(f"{path}: exists and is not a checkpoint directory; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a checkpoint is an ordinary folder
    backup = None
    try:
        for module, tensors in weights.items():
            file = tmp / f"{module}.safetensors"
            cpu = {name: t.detach().to("cpu", copy=True).contiguous() for name, t in tensors.items()}
            safetensors.torch.save_file(cpu, str(file), metadata={"format": "pt"})
            file.chmod(0o666 & ~_umask())  # safetensors writes owner-only files
            _fsync(file)
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        _fsync(tmp / MANIFEST)
        _fsync(tmp)
        if path.exists():
            backup = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
            os.rename(path, backup)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if backup is not None and not path.exists():
            os.rename(backup, path)
        raise
    _fsync(path.parent)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
    return path


def load_checkpoint(path: str | Path, *, expected_kind: str | None = None
                    ) -> tuple[Manifest, dict[str, dict[str, torch.Tensor]]]:
    """Read and validate a checkpoint; weights are loaded onto the CPU. Unknown files are ignored, never read."""
    path = Path(path)
    if not path.is_dir():
        what = "is a file, not a checkpoint directory" if path.exists() else "does not exist"
        raise CheckpointError(f"{path}: {what}")
    source = path / MANIFEST
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no {MANIFEST}; not a checkpoint directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{source}: not a readable JSON file ({err})") from err
    manifest = Manifest.from_json(data, str(source))
    if expected_kind is not None and manifest.kind != expected_kind:
        raise CheckpointError(f"{path}: checkpoint holds a '{manifest.kind}', expected a '{expected_kind}'")
    weights = {}
    for module in manifest.modules:
        file = path / f"{module}.safetensors"
        if not file.is_file():
            raise CheckpointError(f"{file}: missing; {MANIFEST} lists module '{module}'")
        try:
            weights[module] = safetensors.torch.load_file(str(file), device="cpu")
        except Exception as err:  # SafetensorError, OSError, ...: refuse without reading further
            raise CheckpointError(f"{file}: not a safetensors file ({err})") from err
    return manifest, weights


def _layout_difference(what: str, ours: Blocks, theirs: Blocks) -> str | None:
    ours, theirs = tuple(tuple(b) for b in ours), tuple(tuple(b) for b in theirs)
    if ours == theirs:
        return None
    index, (mine, yours) = next((i, pair) for i, pair in enumerate(zip_longest(ours, theirs)) if pair[0] != pair[1])
    first = f"block {index} is {mine} in the checkpoint, {yours} in the env"
    if mine is None:
        first = f"the env has an extra block {yours} at position {index}"
    elif yours is None:
        first = f"the checkpoint has an extra block {mine} at position {index}"
    return f"{what}: {first} (checkpoint has {list(ours)}, env has {list(theirs)})"


def check_compatible(manifest: Manifest, *, robot: RobotSpec | None = None,
                     observation_layout: Layout | None = None, action_layout: Layout | None = None,
                     observation_by_name: bool = False) -> None:
    """Raise :class:`CheckpointMismatch` listing every way the checkpoint does not fit what is given.

    With ``observation_by_name`` the env's observation may hold more blocks than the
    checkpoint's, in any order: the policy takes its own blocks by name."""
    differences = []
    if robot is not None:
        fingerprint = robot.fingerprint()
        if (manifest.robot, manifest.robot_fingerprint) != (robot.name, fingerprint):
            same = " (same name, different spec)" if manifest.robot == robot.name else ""
            differences.append(f"robot: checkpoint is for '{manifest.robot}' (fingerprint "
                               f"{manifest.robot_fingerprint}), env uses '{robot.name}' ({fingerprint}){same}")
    if observation_by_name and observation_layout is not None:
        differences += [f"observation layout: the checkpoint's {problem}"
                        for problem in observation_layout.missing(Layout(tuple(manifest.observation_layout)))]
        observation_layout = None
    for what, ours, layout in (("observation layout", manifest.observation_layout, observation_layout),
                               ("action layout", manifest.action_layout, action_layout)):
        difference = None if layout is None else _layout_difference(what, ours, layout.blocks)
        if difference:
            differences.append(difference)
    if differences:
        raise CheckpointMismatch(differences, f"checkpoint '{manifest.kind}' for '{manifest.robot}'")


__all__ = ["FORMAT_VERSION", "CheckpointError", "CheckpointMismatch", "Manifest", "check_compatible",
           "load_checkpoint", "save_checkpoint"]
