"""Where each object of a scene goes at a reset: as requested, or the scene's default spot.

Every engine's robot places objects through this, so a request naming an object the scene
does not have is refused the same way everywhere (``RequestError``, before anything moves).
"""

from __future__ import annotations

from .robot import RequestError, ResetRequest
from .specs import SceneSpec

DEFAULT_SPACING = 0.15  # m between unrequested objects, along y from the spawn region's centre


def placements(scene: SceneSpec, request: ResetRequest | None) -> dict[str, tuple[float, float, float]]:
    """``{object name: (x, y, yaw)}`` for every object of ``scene`` (m, m, rad)."""
    asked = (request or ResetRequest()).object_placements
    names = [o.name for o in scene.objects]
    unknown = sorted(set(asked) - set(names))
    if unknown:
        raise RequestError(f"no objects named {unknown} in scene {scene.name!r} (objects: {', '.join(names)})")
    centre = [(lo + hi) / 2 for lo, hi in zip(scene.spawn_low, scene.spawn_high, strict=True)]
    return {name: tuple(float(v) for v in asked.get(name, (centre[0], centre[1] + DEFAULT_SPACING * i, 0.0)))
            for i, name in enumerate(names)}


__all__ = ["DEFAULT_SPACING", "placements"]
