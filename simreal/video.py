"""Clips of rollouts: frames to GIF or MP4 (imageio), and two rollouts side by side, labelled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import replacing

FORMATS = (".gif", ".mp4")


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 20.0) -> Path:
    """Write RGB frames (``h x w x 3`` uint8) to ``path``: ``.gif`` or ``.mp4``, atomically."""
    import imageio.v3 as iio

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"video file {path}: expected a name ending in {' or '.join(FORMATS)}")
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


__all__ = ["FORMATS", "labelled", "side_by_side", "write_video"]
