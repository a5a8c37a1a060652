"""Pick the music for a voice: emotion cluster × music cluster, ranked by distance to the predicted features.

The rule, as the seed concluded and issue 5 makes measurable:

1. the voice's overall emotion 8-vector → its **emotion cluster** (:mod:`models.clustering`);
2. the emotion → the six **predicted music features** (:mod:`models.music_model`) → their **music cluster**
   (:mod:`library.clusters`);
3. candidates = the library's tracks in *both* clusters (rule ``intersection``), ranked by the weighted distance
   between their standardised features and the predicted ones (each feature weighted by how well the model
   predicts it, its held-out R²); when no track is in both, fall back in order to the music cluster
   (``music_cluster``), the emotion cluster (``emotion_cluster``), then any track (``nearest``).

Tracks with vocals (vocal presence above ``vocal_threshold``) are skipped by default, ``avoid`` skips catalog ids
already used (a batch), ``mood`` replaces the detected emotion with a mood word's (when tracks of the library
carry that word as a tag, they come first), and ``seed`` breaks near-ties reproducibly. Every choice says why in words a creator reads: ``"calm, major, 84 BPM: matches a calm, warm voice"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from library.types import FEATURES, Track, TrackChoice
from models.types import EmotionEstimate, neutral_estimate
from moodmix.errors import CatalogError, MoodmixError, NoTrackFoundError

__all__ = [
    "NEAR_TIE_Z",
    "VOCAL_THRESHOLD",
    "SelectionContext",
    "UnknownMoodError",
    "choose_tracks",
    "describe_track",
    "load_context",
    "mood_words",
    "rank_tracks",
    "target_emotion",
]

log = logging.getLogger(__name__)

#: Vocal presence (0..1) above which a track counts as "with vocals" and is skipped by default.
VOCAL_THRESHOLD = 0.5
#: Distances (weighted z-units) within this of the best of a run count as a near-tie, broken by the seed.
NEAR_TIE_Z = 0.02

RULES = ("intersection", "music_cluster", "emotion_cluster", "nearest")


class UnknownMoodError(MoodmixError, ValueError):
    """A ``--mood`` that is neither a known mood word, one of the six labels, nor a tag of the library."""


@dataclass(frozen=True)
class SelectionContext:
    """What selection needs besides the tracks: the two models and the music clusters' assignment."""

    music_model: Any  # models.music_model.MusicModel
    emotion_clusters: Any  # models.clustering.EmotionClusters
    assign_music_cluster: Callable[[dict[str, float]], int]


_CONTEXT: SelectionContext | None = None


def load_context() -> SelectionContext:
    """Load the shipped music model, emotion clusters and music clusters once per process."""
    global _CONTEXT
    if _CONTEXT is None:
        from library.clusters import assign_cluster
        from models.clustering import load_emotion_clusters
        from models.music_model import load_music_model

        _CONTEXT = SelectionContext(load_music_model(), load_emotion_clusters(), assign_cluster)
    return _CONTEXT


# ---------------------------------------------------------------------------------------------------------
# words


def mood_words(features: dict[str, float] | Any) -> str:
    """The one mood word (a built-in folder mood) nearest to a track's circumplex position."""
    from models.track_emotion import MOOD_VA, va_from_features

    v, a = va_from_features(features)
    folders = ("calm", "tender", "nostalgic", "happy", "energetic")
    return min(folders, key=lambda m: (MOOD_VA[m][0] - v) ** 2 + (MOOD_VA[m][1] - a) ** 2)


def describe_track(track: Track) -> str:
    """``"calm, major, 84 BPM"``: the track's mood (its mood tag if it has one), mode and tempo."""
    from models.track_emotion import MOOD_VA

    mood = next((t for t in track.tags if t in MOOD_VA), None) or mood_words(track.features)
    parts = [mood]
    mode = track.features.get("mode")
    if mode is not None:
        parts.append("major" if float(mode) >= 0.5 else "minor")
    tempo = track.features.get("tempo")
    if tempo is not None:
        parts.append(f"{float(tempo):.0f} BPM")
    ac = track.features.get("acousticness")
    if ac is not None and float(ac) >= 0.6:
        parts.append("acoustic")
    return ", ".join(parts)


def _voice_words(emotion: EmotionEstimate) -> str:
    from models.clustering import describe_va

    return describe_va(emotion.valence, emotion.arousal)


# ---------------------------------------------------------------------------------------------------------
# the target


def target_emotion(emotion: EmotionEstimate | None, mood: str | None, tracks: Sequence[Track] = (),
                   *, source: str = "voice") -> tuple[EmotionEstimate, str]:
    """The emotion to match and where it came from (``source``, e.g. ``"voice"`` or ``"text"``, or
    ``"mood 'calm'"``).

    A mood word sets the target: a built-in mood (calm, energetic, happy, nostalgic, tender, and a few synonyms)
    or one of the six labels; any other tag that library tracks carry targets the mean emotion of those tracks.

    Raises
    ------
    UnknownMoodError
        The mood is none of these.
    """
    from models.track_emotion import MOOD_VA, mood_emotion

    if mood:
        est = mood_emotion(mood)
        if est is None:
            tagged = [t for t in _tagged(tracks, mood) if t.features]
            if tagged:
                vecs = np.asarray([_track_vector(t) for t in tagged])
                m = vecs.mean(axis=0)
                from models.types import LABELS

                est = EmotionEstimate({k: float(m[i]) for i, k in enumerate(LABELS)}, float(m[-2]), float(m[-1]), 1.0)
            else:
                known = sorted(set(MOOD_VA) | {"sadness", "joy", "love", "anger", "fear", "surprise"})
                raise UnknownMoodError(f"unknown mood {mood!r}: expected one of {', '.join(known)} or a tag of the "
                                       "library; try `moodmix library list` to see the tags")
        return est, f"mood '{mood}'"
    if emotion is None:
        return neutral_estimate(), "no emotion (neutral)"
    return emotion, source


def _tagged(tracks: Sequence[Track], mood: str) -> list[Track]:
    key = mood.strip().lower()
    return [t for t in tracks if key in (x.lower() for x in t.tags)]


def _track_vector(track: Track) -> tuple[float, ...]:
    """A track's emotion 8-vector, always from its features (cheap; a stored vector may predate a model change)."""
    from models.track_emotion import emotion_vector_from_features

    return emotion_vector_from_features(track.features)


# ---------------------------------------------------------------------------------------------------------
# ranking


def _usable(track: Track) -> bool:
    return all(track.features.get(k) is not None and np.isfinite(float(track.features[k])) for k in FEATURES)


def _order(tiers: Sequence[int], dist: np.ndarray, seed: int | None) -> list[int]:
    """Indices sorted by (tier, distance); with a seed, runs of near-ties (each within :data:`NEAR_TIE_Z` of the
    run's best) are shuffled reproducibly. Without a seed, ties keep catalog order."""
    order = sorted(range(len(dist)), key=lambda i: (tiers[i], dist[i], i))
    if seed is None:
        return order
    rng = np.random.default_rng(seed)
    out: list[int] = []
    run: list[int] = []
    for i in order:
        if run and (tiers[i] != tiers[run[0]] or dist[i] - dist[run[0]] > NEAR_TIE_Z):
            out += [run[j] for j in rng.permutation(len(run))]
            run = []
        run.append(i)
    out += [run[j] for j in rng.permutation(len(run))]
    return out


def rank_tracks(
    emotion: EmotionEstimate,
    tracks: Sequence[Track],
    *,
    context: SelectionContext | None = None,
    seed: int | None = None,
    source: str = "voice",
) -> list[TrackChoice]:
    """Every usable track as a :class:`TrackChoice`, best first (tiers by rule, then distance, seeded near-ties).

    Parameters
    ----------
    emotion : the target emotion (the voice's overall estimate, or a mood's).
    tracks : candidate tracks (already filtered for vocals and ``avoid``); tracks without the six features are
        skipped.
    context : models and clusters; default :func:`load_context`.
    seed : breaks near-ties (distances within :data:`NEAR_TIE_Z`) reproducibly; None keeps catalog order.
    source : where the target came from, for the reasons.
    """
    ctx = context or load_context()
    usable = [t for t in tracks if _usable(t)]
    if not usable:
        return []
    model = ctx.music_model
    pred = model.predict([emotion])[0]
    pred_feats = {k: float(v) for k, v in zip(FEATURES, pred)}
    pred_z = model.standardise(pred[None, :])[0]
    e_cluster = int(ctx.emotion_clusters.assign_one(emotion))
    m_cluster = int(ctx.assign_music_cluster(pred_feats))

    feats = np.asarray([[float(t.features[k]) for k in FEATURES] for t in usable])
    z = model.standardise(feats)
    w = np.asarray(model.weights, dtype=np.float64)
    dist = np.sqrt(((z - pred_z) ** 2 * w).sum(axis=1) / w.sum())
    # Clusters are recomputed from the vectors rather than read from the catalog: a stored id is stale once the
    # clusters are refitted, and assigning is cheap.
    t_e = [int(c) for c in ctx.emotion_clusters.assign(np.asarray([_track_vector(t) for t in usable]))]
    t_m = [int(ctx.assign_music_cluster(dict(t.features))) for t in usable]

    tiers = []
    for te, tm in zip(t_e, t_m):
        if te == e_cluster and tm == m_cluster:
            tiers.append(0)
        elif tm == m_cluster:
            tiers.append(1)
        elif te == e_cluster:
            tiers.append(2)
        else:
            tiers.append(3)
    order = _order(tiers, dist, seed)

    voice_words = _voice_words(emotion)
    e_words = ctx.emotion_clusters.describe(e_cluster)
    best_tier = tiers[order[0]] if len(order) else 0
    out = []
    for i in order:
        t = usable[i]
        rule = RULES[tiers[i]]
        if source in ("voice", "text"):
            article = "an" if voice_words[0] in "aeiou" else "a"
            reasons = [f"{describe_track(t)}: matches {article} {voice_words} {source}"]
        else:
            reasons = [f"{describe_track(t)}: matches the {source} ({voice_words})"]
        if rule == "intersection":
            whose = f"the {source}'s" if source in ("voice", "text") else "the target's"
            reasons.append(f"in {whose} emotion group ({e_words}) and in the music group that mood calls for")
        elif tiers[i] > best_tier:  # a runner-up below better-matching tracks: say what it shares, not "no track"
            reasons.append({
                "music_cluster": "in the music group the mood calls for, outside its emotion group",
                "emotion_cluster": f"shares the emotion group ({e_words}), outside the predicted music group",
            }.get(rule, "in neither group; close in sound"))
        elif rule == "music_cluster":
            reasons.append("no track shares both groups; this one is in the music group the mood calls for")
        elif rule == "emotion_cluster":
            reasons.append(f"no track is in the predicted music group; this one shares the emotion group ({e_words})")
        else:
            reasons.append("no track is in either group; this is the closest in sound")
        reasons.append(
            f"its sound vs what this mood calls for: energy {t.features['energy']:.2f} vs "
            f"{pred_feats['energy']:.2f}, valence {t.features['valence']:.2f} vs {pred_feats['valence']:.2f}, "
            f"{float(t.features['tempo']):.0f} vs {pred_feats['tempo']:.0f} BPM")
        out.append(TrackChoice(
            track=t, rule=rule, reasons=tuple(reasons), emotion_cluster=e_cluster, music_cluster=m_cluster,
            distance=float(dist[i]),
            extra={"predicted_features": {k: round(v, 4) for k, v in pred_feats.items()},
                   "track_emotion_cluster": int(t_e[i]), "track_music_cluster": int(t_m[i]),
                   "target": source}))
    return out


# ---------------------------------------------------------------------------------------------------------
# the catalog


def _open_library(library: Any) -> Any:
    """A catalog from ``library``: None or ``"default"`` → the default catalog (built-in library indexed); a
    catalog object as is; a folder → a catalog of that folder; a SQLAlchemy URL → that catalog."""
    from library import catalog as cat

    if library is None:
        return cat.default_catalog()
    if hasattr(library, "tracks"):
        return library
    p = Path(str(library)).expanduser()
    if p.is_dir():
        return _folder_catalog(p)
    name = str(library).strip()
    if name.lower() in ("default", "builtin", "built-in"):
        return cat.default_catalog()
    if "://" not in name:
        raise CatalogError(f"--library {name!r} is neither a folder, 'default', nor a catalog URL (e.g. "
                           "sqlite:///path/catalog.sqlite); give a folder of music or a database URL")
    return cat.open_catalog(name)


def _folder_catalog(folder: Path) -> Any:
    """A catalog of one folder: its own SQLite file under ``MOODMIX_HOME/folders/`` (the folder is only read);
    new or changed files are analysed on first use, the rest come from the stored analysis."""
    import hashlib

    from library.catalog import open_catalog
    from moodmix.settings import moodmix_home

    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    catalog = open_catalog(home=moodmix_home() / "folders" / key)
    from library.scan import find_audio_files

    n_files = len(find_audio_files([folder]).files)
    # a handful of files is analysed in this process: starting analysis processes would cost more than it saves
    catalog.add_paths([folder], tag_parent=True, jobs=1 if n_files <= 4 else None)
    return catalog


def _with_emotion(catalog: Any, tracks: list[Track], ctx: SelectionContext) -> list[Track]:
    """Fill in each track's emotion vector and emotion cluster (from its features) and store them in the catalog."""
    out = []
    for t in tracks:
        if not _usable(t):
            out.append(t)
            continue
        vec = _track_vector(t)
        cl = int(ctx.emotion_clusters.assign_one(vec))
        stale = t.emotion is None or len(t.emotion) != len(vec) or not np.allclose(t.emotion, vec, atol=1e-4)
        if stale or t.emotion_cluster != cl:
            t = replace(t, emotion=tuple(vec), emotion_cluster=cl)
            try:
                catalog.update(t.id, emotion=tuple(vec), emotion_cluster=cl)
            except (MoodmixError, OSError) as exc:  # a read-only catalog still selects; recomputed next time
                log.debug("could not store the emotion of track %s: %s", t.id, exc)
        out.append(t)
    return out


def choose_tracks(
    emotion: EmotionEstimate | None,
    *,
    library: Any = None,
    mood: str | None = None,
    exclude_vocals: bool = True,
    seed: int | None = None,
    avoid: Sequence[str] = (),
    n: int = 1,
    vocal_threshold: float = VOCAL_THRESHOLD,
    context: SelectionContext | None = None,
    source: str = "voice",
) -> list[TrackChoice]:
    """The ``n`` best tracks for an emotion, best first.

    Parameters
    ----------
    emotion : the voice's overall emotion (None: neutral).
    library : None (default catalog: the built-in library), a catalog object, a catalog name/URL, or a folder.
    mood : override the target emotion with a mood word (``calm``, ``energetic``, ``joy``, a library tag...).
    exclude_vocals : skip tracks whose vocal presence exceeds ``vocal_threshold`` (unknown presence is kept).
    seed : reproducible near-tie breaking.
    avoid : catalog ids (or paths) not to pick, e.g. tracks already used in a batch.
    n : how many suggestions.
    source : what the emotion was heard in (``"voice"`` or ``"text"``), for the reasons.

    Raises
    ------
    NoTrackFoundError
        The library has no analysed track, or every track was excluded.
    UnknownMoodError
        ``mood`` is not a known mood word, label or tag.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    catalog = _open_library(library)
    all_tracks = list(catalog.tracks(include_derived=True))
    if not all_tracks:
        raise NoTrackFoundError(f"the music library {library or '(default)'} has no tracks; add some with "
                                "`moodmix library add PATH`")
    ctx = context or load_context()
    target, source = target_emotion(emotion, mood, all_tracks, source=source)
    avoid_set = {str(a) for a in avoid}
    tracks = [t for t in all_tracks if t.id not in avoid_set and t.path not in avoid_set]
    n_avoided = len(all_tracks) - len(tracks)
    if exclude_vocals:
        tracks = [t for t in tracks if t.vocal is None or float(t.vocal) <= vocal_threshold]
    if not tracks:
        raise NoTrackFoundError(
            f"all {len(all_tracks)} tracks of the library were excluded ({n_avoided} already used"
            f"{', the rest have vocals' if exclude_vocals else ''}); add tracks, or allow vocals")
    tracks = _with_emotion(catalog, tracks, ctx)
    tagged = _tagged(tracks, mood) if mood else []
    if tagged:
        # A mood that is also a tag of the library: the tracks carrying it come first (a creator asking for
        # "calm" expects the calm folder), ranked among themselves the usual way; the rest follow.
        ids = {t.id for t in tagged}
        ranked = [replace(c, reasons=c.reasons + (f"tagged '{mood}' in the library, as --mood asked",))
                  for c in rank_tracks(target, tagged, context=ctx, seed=seed, source=source)]
        ranked += rank_tracks(target, [t for t in tracks if t.id not in ids], context=ctx, seed=seed,
                              source=source)
    else:
        ranked = rank_tracks(target, tracks, context=ctx, seed=seed, source=source)
    if not ranked:
        raise NoTrackFoundError(f"none of the {len(tracks)} library tracks has been analysed (no music features); "
                                "re-add them with `moodmix library add PATH`")
    return ranked[:n]
