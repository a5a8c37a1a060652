"""Catalog value types shared by scanning, the catalog, clustering, selection and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["ANALYSIS_VERSION", "CREDIT_FIELDS", "FEATURES", "Track", "TrackChoice", "format_credit"]

#: Bumped when the analysis changes so that stored catalog rows can be told apart (kept per row); a row of an older
#: version is analysed again the next time its file is added (2: musicnn tags, tag-informed features).
ANALYSIS_VERSION = 2


#: The seed's six music features on Spotify's scales: [0, 1] except mode (0 minor / 1 major) and tempo (BPM).
FEATURES: tuple[str, ...] = ("danceability", "energy", "mode", "acousticness", "valence", "tempo")

#: A track's credit metadata, stored per track (all optional: a user's own files usually have none).
CREDIT_FIELDS: tuple[str, ...] = ("artist", "licence", "source", "share_alike", "credit")


def format_credit(title: str, *, artist: str | None = None, licence: str | None = None,
                  share_alike: bool = False, origin: str | None = None) -> str:
    """The one-line credit shown wherever a track is: ``'Title' by Artist, CC-BY-3.0``.

    Without an artist the track is credited to where it came from (``'Title' from immich-memories-music, MIT``);
    a share-alike licence is marked as such, so nobody mistakes it for plain attribution.
    """
    who = f" by {artist}" if artist else f" from {origin}" if origin else ""
    lic = f", {licence}" if licence else ""
    sa = " (share-alike)" if share_alike else ""
    return f"'{title}'{who}{lic}{sa}"


@dataclass(frozen=True)
class Track:
    """One analysed track of the catalog."""

    id: str
    path: str
    title: str
    duration_s: float
    features: Mapping[str, float]  # the six FEATURES
    tags: tuple[str, ...] = ()
    key: str | None = None
    loudness_lufs: float | None = None
    vocal: float | None = None  # vocal presence 0..1
    beats: tuple[float, ...] = ()
    downbeats: tuple[float, ...] = ()
    music_cluster: int | None = None
    emotion_cluster: int | None = None
    emotion: tuple[float, ...] | None = None  # the track's 8-vector (six labels, valence, arousal)
    content_hash: str = ""
    derived_from: str | None = None  # id of the original when this is a derived (instrumental) track
    artist: str | None = None
    licence: str | None = None  # SPDX-like: CC-BY-3.0, CC-BY-SA-3.0, CC0-1.0, public-domain, MIT
    source: str | None = None  # where the file came from: a URL or a package (``naev-data 0.8.2-1 (Debian)``)
    share_alike: bool = False  # the licence asks derived works (a mix) to carry the same licence
    credit: str | None = None  # ``'Title' by Artist, CC-BY-3.0``; None when nothing is known

    def credit_dict(self) -> dict[str, Any]:
        """The credit keys every track listing carries (``credit``, ``licence``, ``artist``, ``source``,
        ``share_alike``)."""
        return {"credit": self.credit, "licence": self.licence, "artist": self.artist, "source": self.source,
                "share_alike": self.share_alike}

    def to_dict(self) -> dict[str, Any]:
        """The ``library list --json`` object (DESIGN.md)."""
        feats: dict[str, Any] = {k: self.features.get(k) for k in FEATURES}
        feats.update({"key": self.key, "loudness_lufs": self.loudness_lufs, "vocal": self.vocal})
        return {
            "id": self.id, "path": self.path, "title": self.title, "duration_s": self.duration_s,
            "tags": list(self.tags), "features": feats,
            "music_cluster": self.music_cluster, "emotion_cluster": self.emotion_cluster,
            "derived_from": self.derived_from, **self.credit_dict(),
        }


@dataclass(frozen=True)
class TrackChoice:
    """A selected track and why: rule is intersection | music_cluster | emotion_cluster | nearest | forced."""

    track: Track
    rule: str
    reasons: tuple[str, ...] = ()
    emotion_cluster: int | None = None
    music_cluster: int | None = None
    distance: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report's ``music`` section (without segments) and a ``suggest --json`` suggestion."""
        return {
            "track": self.track.id, "path": self.track.path, "title": self.track.title,
            "features": {k: self.track.features.get(k) for k in FEATURES},
            "emotion_cluster": self.emotion_cluster, "music_cluster": self.music_cluster,
            "rule": self.rule, "reasons": list(self.reasons),
            "credit": self.track.credit, "licence": self.track.licence, "artist": self.track.artist,
            "share_alike": self.track.share_alike,
        }
