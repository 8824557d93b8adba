"""Clips of rollouts: frames to GIF or MP4 (imageio), and two rollouts side by side, labelled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import replacing

FORMATS = (".gif", ".mp4")
VIDEO_SIZE = (192, 144)  # pixels (width, height) of the clips the CLI writes: small files, fast to render


def check_video_name(path: str | Path) -> Path:
    """``path`` if it names a clip format (checked before any work is done), else ValueError."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"video file {path}: expected a name ending in {' or '.join(FORMATS)}")
    return path


class FrameRecorder:
    """Collects ``env.render()`` frames of the first ``episodes`` episodes, one every
    ``every`` calls (a smaller clip at a lower frame rate). Pass it as ``observe`` to
    :func:`simreal.evaluation.evaluate`; the env needs ``render_mode="rgb_array"``."""

    def __init__(self, env: Any, episodes: int = 1, every: int = 1) -> None:
        if getattr(env, "render_mode", None) != "rgb_array":
            raise ValueError("recording frames needs an env made with render_mode='rgb_array'")
        if episodes < 1 or every < 1:
            raise ValueError(f"episodes and every must be at least 1, got {episodes} and {every}")
        self.env, self.episodes, self.every = env, episodes, every
        self.frames: list[np.ndarray] = []
        self._calls = 0

    def __call__(self, episode: int) -> None:
        if episode >= self.episodes:
            return
        if self._calls % self.every == 0:
            self.frames.append(self.env.render())
        self._calls += 1

    def fps(self, control_period: float) -> float:
        """The clip's frame rate for real-time playback of a robot stepping every ``control_period`` s."""
        return 1.0 / (control_period * self.every)


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 20.0) -> Path:
    """Write RGB frames (``h x w x 3`` uint8) to ``path``: ``.gif`` or ``.mp4``, atomically."""
    import imageio.v3 as iio

    path = check_video_name(path)
    if not frames:
        raise ValueError(f"video file {path}: no frames to write")
    with replacing(path) as tmp:
        if path.suffix.lower() == ".gif":
            iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, np.stack(frames), extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
    return path


def labelled(frame: np.ndarray, text: str) -> np.ndarray:
    """The frame with ``text`` written in its top-left corner."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 8 + 7 * len(text), 18), fill=(255, 255, 255))
    draw.text((4, 3), text, fill=(0, 0, 0))
    return np.asarray(image)


def side_by_side(left: Sequence[np.ndarray], right: Sequence[np.ndarray], labels: tuple[str, str] = ("", "")) \
        -> list[np.ndarray]:
    """Two clips as one, frame by frame; the shorter one holds its last frame."""
    if not left or not right:
        raise ValueError("side_by_side needs frames on both sides")
    joined = []
    for i in range(max(len(left), len(right))):
        a, b = left[min(i, len(left) - 1)], right[min(i, len(right) - 1)]
        if labels[0]:
            a, b = labelled(a, labels[0]), labelled(b, labels[1])
        joined.append(np.concatenate((a, b), axis=1))
    return joined


__all__ = ["FORMATS", "VIDEO_SIZE", "FrameRecorder", "check_video_name", "labelled", "side_by_side", "write_video"]
