"""Selection fixtures: an in-memory catalog of tracks spanning the built-in library's five moods."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from library.types import Track
from models.mapping import labels_from_va
from models.types import EmotionEstimate

#: Feature profiles like the built-in library's folders (prompted tempo/mode from its LICENSE-MUSIC).
PROFILES: dict[str, dict[str, float]] = {
    "calm": {"danceability": 0.45, "energy": 0.22, "mode": 1, "acousticness": 0.80, "valence": 0.45, "tempo": 68},
    "tender": {"danceability": 0.50, "energy": 0.35, "mode": 1, "acousticness": 0.65, "valence": 0.62, "tempo": 90},
    "nostalgic": {"danceability": 0.45, "energy": 0.35, "mode": 0, "acousticness": 0.55, "valence": 0.25,
                  "tempo": 80},
    "happy": {"danceability": 0.75, "energy": 0.75, "mode": 1, "acousticness": 0.20, "valence": 0.85, "tempo": 118},
    "energetic": {"danceability": 0.65, "energy": 0.92, "mode": 0, "acousticness": 0.05, "valence": 0.45,
                  "tempo": 140},
}


class MemoryCatalog:
    """The catalog interface selection uses: tracks(include_derived=...), update(id, **fields)."""

    def __init__(self, tracks: list[Track]) -> None:
        self._tracks = {t.id: t for t in tracks}
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def tracks(self, *, include_derived: bool = True) -> list[Track]:
        return [t for t in self._tracks.values() if include_derived or t.derived_from is None]

    def get(self, id: str) -> Track:
        return self._tracks[id]

    def update(self, id: str, **fields: Any) -> None:
        self.updates.append((id, fields))
        self._tracks[id] = replace(self._tracks[id], **fields)


def make_track(mood: str, i: int = 0, *, vocal: float = 0.0, tweak: float = 0.0, tags: tuple[str, ...] | None = None
               ) -> Track:
    f = dict(PROFILES[mood])
    f["energy"] = min(1.0, max(0.0, f["energy"] + tweak))
    f["tempo"] = f["tempo"] + 40 * tweak
    return Track(id=f"{mood}-{i}", path=f"/music/{mood}/{mood}_{i}.opus", title=f"{mood} {i}", duration_s=60.0,
                 features=f, tags=tags if tags is not None else (mood,), vocal=vocal)


@pytest.fixture
def mood_catalog() -> MemoryCatalog:
    tracks = [make_track(m, i, tweak=0.03 * i) for m in PROFILES for i in range(3)]
    return MemoryCatalog(tracks)


def estimate(v: float, a: float) -> EmotionEstimate:
    return EmotionEstimate(labels_from_va(v, a), v, a, 0.8)
