"""Pick the music for a voice the way a music supervisor would: the mood's groups, on this library's own spread,
and among them the closest-sounding track.

The rule (the seed's, made to mean something for whatever library is at hand):

1. **Targets on the library's own spread.** The voice's arousal sets the energy target and its valence the
   valence target (as normal scores, :data:`_VA_Z_SCALE`); its overall emotion 8-vector goes through the emotion
   → music model (:mod:`library.music_model`), which predicts the other four features (danceability, mode,
   acousticness, tempo) as z-scores of the reference corpus (Spotify). Each target z is read as a percentile
   (``Φ(z)``) and every track's features are turned into percentiles of *this library* (rank-based normal
   scores). So the most excited voices aim at the library's most energetic
   tracks and the saddest at its calmest, whatever the library's absolute level: a library of 28 soft clips still
   has a calmest and a liveliest.
2. **Groups.** The voice's emotion cluster (:mod:`models.emotion_clusters`) and its music cluster — k-means on the
   library's own normal scores, fitted per library — define the mood's groups. Each track's emotion 8-vector and
   cluster come from its position on the library's mood plane (valence from valence and mode, arousal from energy
   and tempo, all as library percentiles), so built-in and added tracks are measured the same way.
3. **Closeness wins.** Candidates are ranked by their weighted distance to the targets (energy weighted 1,
   valence 0.5 (:data:`TARGET_WEIGHTS`), the four predicted features by how well the model predicts them, their held-out R²) plus a small penalty for each of the two groups a track is
   outside of (:data:`GROUP_PENALTY`). Inside the intersection the closest-sounding track wins; a track outside
   it that is much closer than every track inside wins too, and its reasons say so.

Tracks with vocals (vocal presence above ``vocal_threshold``) are skipped by default, ``avoid`` skips catalog ids
already used (a batch), ``mood`` replaces the detected emotion with a mood word's (when tracks of the library
carry that word as a tag, they come first), and ``seed`` breaks near-ties reproducibly. Reasons are in a creator's
words (``"upbeat, major, 128 BPM — for an excited, positive voice"``); rule names, clusters and distances are
kept for ``--json`` in :class:`~library.types.TrackChoice` (``rule``, ``extra``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CatalogError, MoodmixError, NoTrackFoundError
from library.types import FEATURES, Track, TrackChoice
from models.types import EmotionEstimate, neutral_estimate

__all__ = [
    "GROUP_PENALTY",
    "NEAR_TIE_Z",
    "VOCAL_THRESHOLD",
    "LibrarySpread",
    "SelectionContext",
    "UnknownMoodError",
    "choose_tracks",
    "describe_track",
    "describe_voice",
    "library_spread",
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
#: Added to a track's distance for being outside the mood's music group / emotion group (weighted z-units). Small
#: against the library's spread (a track one standard deviation closer in sound outweighs both), so closeness wins.
GROUP_PENALTY = {"music": 0.2, "emotion": 0.15}
#: Weights of the energy and valence distances. Arousal is what voices and music both carry most reliably (the
#: voice model tells high from low arousal far better than it tells the emotions apart, and a track's energy is
#: measured more surely than its valence), so energy leads and valence counts half.
TARGET_WEIGHTS = {"energy": 1.0, "valence": 0.5}
#: Target z-scores are clipped to this before they are read as percentiles (Φ(2.2) ≈ 0.986).
_Z_CLIP = 2.2
#: The voice's arousal (valence) in [-1, 1] divided by this is its energy (valence) target as a normal score: a
#: voice as excited as joy (arousal 0.45) aims at the library's 90th percentile of energy, an angry one (0.75) at
#: its 98th, a sad one (-0.45) at its 10th; a neutral voice (0) at the median.
_VA_Z_SCALE = 0.35
#: Library positions on the mood plane are percentiles scaled into ±this, the range voices occupy.
_PLANE_SPAN = 0.8

RULES = ("intersection", "music_cluster", "emotion_cluster", "nearest")


class UnknownMoodError(MoodmixError, ValueError):
    """A ``--mood`` that is neither a known mood word, one of the six labels, nor a tag of the library."""


@dataclass(frozen=True)
class SelectionContext:
    """What selection needs besides the tracks: the emotion → music model and the emotion clusters.

    ``assign_music_cluster`` (the reference corpus' clusters, :mod:`library.music_clusters`) is kept for callers that
    want a track's cluster on Spotify's scale; selection itself clusters each library on its own spread.
    """

    music_model: Any  # library.music_model.MusicModel
    emotion_clusters: Any  # models.emotion_clusters.EmotionClusters
    assign_music_cluster: Callable[[dict[str, float]], int]


_CONTEXT: SelectionContext | None = None


def load_context() -> SelectionContext:
    """Load the shipped music model, emotion clusters and music clusters once per process."""
    global _CONTEXT
    if _CONTEXT is None:
        from library.music_clusters import assign_cluster
        from library.music_model import load_music_model
        from models.emotion_clusters import load_emotion_clusters

        _CONTEXT = SelectionContext(load_music_model(), load_emotion_clusters(), assign_cluster)
    return _CONTEXT


# ---------------------------------------------------------------------------------------------------------
# the library's own spread


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-based normal scores of each column of ``x`` (n, d): ties share their mean rank; one track → 0."""
    from scipy.stats import norm, rankdata

    n = x.shape[0]
    if n < 2:
        return np.zeros_like(x, dtype=np.float64)
    ranks = np.column_stack([rankdata(x[:, j]) for j in range(x.shape[1])])
    return np.asarray(norm.ppf((ranks - 0.5) / n), dtype=np.float64)


def _plane(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Library-relative (valence, arousal) in ±:data:`_PLANE_SPAN` from the normal scores (n, 6)."""
    from scipy.stats import rankdata

    i = {k: FEATURES.index(k) for k in FEATURES}
    v_raw = 0.8 * scores[:, i["valence"]] + 0.2 * scores[:, i["mode"]]
    a_raw = 0.75 * scores[:, i["energy"]] + 0.25 * scores[:, i["tempo"]]
    n = len(scores)
    if n < 2:
        return np.zeros(n), np.zeros(n)

    def span(r: np.ndarray) -> np.ndarray:
        return _PLANE_SPAN * (2.0 * (rankdata(r) - 0.5) / n - 1.0)

    return span(v_raw), span(a_raw)


@dataclass(frozen=True)
class LibrarySpread:
    """A library measured on its own spread: per track (in ``ids`` order) its normal scores (n, 6), its place on
    the mood plane, emotion 8-vector and emotion cluster, and its music cluster (k-means on the weighted scores)."""

    ids: tuple[str, ...]
    scores: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    emotion_vectors: np.ndarray
    emotion_clusters: np.ndarray
    music_clusters: np.ndarray
    music_centres: np.ndarray  # (k, 6) in weighted-score units
    sorted_features: np.ndarray  # (n, 6): each feature's values sorted, for percentiles → feature values

    @property
    def k(self) -> int:
        return int(self.music_centres.shape[0])

    def music_cluster_of(self, scores: np.ndarray, weights: np.ndarray) -> int:
        """Nearest music centre of one score vector (6,)."""
        z = np.asarray(scores, float) * np.sqrt(weights)
        return int(np.argmin(((self.music_centres - z) ** 2).sum(axis=1)))

    def value_at(self, feature: str, score: float) -> float:
        """The feature value at the library percentile of a normal score (for plain-word targets)."""
        from scipy.stats import norm

        col = self.sorted_features[:, FEATURES.index(feature)]
        return float(np.quantile(col, float(norm.cdf(score))))


def _fingerprint(tracks: Sequence[Track]) -> str:
    h = hashlib.sha1()
    for t in tracks:
        h.update(t.id.encode())
        h.update(np.asarray([float(t.features[k]) for k in FEATURES]).tobytes())
    return h.hexdigest()


def library_spread(tracks: Sequence[Track], *, context: SelectionContext | None = None) -> LibrarySpread:
    """Measure ``tracks`` (all usable: the six features present) on their own spread. Cached per set of tracks."""
    ctx = context or load_context()
    return _library_spread(tuple(tracks), _fingerprint(tracks), ctx)


@functools.lru_cache(maxsize=16)
def _spread_cached(fingerprint: str, feats_bytes: bytes, n: int, weights: tuple[float, ...],
                   centres_bytes: bytes) -> tuple[np.ndarray, ...]:
    from models.mapping import labels_from_va
    from models.types import LABELS

    feats = np.frombuffer(feats_bytes, dtype=np.float64).reshape(n, len(FEATURES))
    centres_e = np.frombuffer(centres_bytes, dtype=np.float64).reshape(-1, len(LABELS) + 2)
    scores = _normal_scores(feats)
    v, a = _plane(scores)
    vecs = np.empty((n, len(LABELS) + 2))
    for j in range(n):
        lab = labels_from_va(float(v[j]), float(a[j]))
        vecs[j, : len(LABELS)] = [lab[k] for k in LABELS]
        vecs[j, -2:] = (v[j], a[j])
    e_cl = ((vecs[:, None, :] - centres_e[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    w = np.asarray(weights)
    zw = scores * np.sqrt(w)
    k = min(_n_music_clusters(n), len(np.unique(zw.round(9), axis=0)))
    if k <= 1:
        labels = np.zeros(n, dtype=int)
        centres = zw.mean(axis=0, keepdims=True)
    else:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(zw)
        # ids read calm → lively: order the centres by their energy score
        order = np.argsort(km.cluster_centers_[:, FEATURES.index("energy")])
        remap = np.empty(k, dtype=int)
        remap[order] = np.arange(k)
        labels = remap[km.labels_]
        centres = km.cluster_centers_[order]
    return scores, v, a, vecs, e_cl, labels, centres, np.sort(feats, axis=0)


def _n_music_clusters(n: int) -> int:
    """k for a library of n tracks: about one cluster per 6 tracks, between 2 and 6 (1 below 4 tracks)."""
    if n < 4:
        return 1
    return int(np.clip(round(n / 6), 2, 6))


def _library_spread(tracks: tuple[Track, ...], fingerprint: str, ctx: SelectionContext) -> LibrarySpread:
    feats = np.asarray([[float(t.features[k]) for k in FEATURES] for t in tracks], dtype=np.float64)
    w = tuple(float(x) for x in _weights(ctx))
    centres_e = np.ascontiguousarray(np.asarray(ctx.emotion_clusters.centres, dtype=np.float64))
    scores, v, a, vecs, e_cl, m_cl, centres, sorted_f = _spread_cached(
        fingerprint, feats.tobytes(), len(tracks), w, centres_e.tobytes())
    return LibrarySpread(ids=tuple(t.id for t in tracks), scores=scores, valence=v, arousal=a,
                         emotion_vectors=vecs, emotion_clusters=e_cl, music_clusters=m_cl, music_centres=centres,
                         sorted_features=sorted_f)


# ---------------------------------------------------------------------------------------------------------
# words


def mood_words(features: dict[str, float] | Any) -> str:
    """The one mood word (a built-in folder mood) nearest to a track's circumplex position."""
    from models.track_emotion import MOOD_VA, va_from_features

    v, a = va_from_features(features)
    folders = ("calm", "tender", "nostalgic", "happy", "energetic")
    return min(folders, key=lambda m: (MOOD_VA[m][0] - v) ** 2 + (MOOD_VA[m][1] - a) ** 2)


def _energy_word(arousal: float) -> str:
    """A library-relative energy word from a place on the mood plane (±0.8)."""
    if arousal <= -0.45:
        return "calm"
    if arousal <= -0.15:
        return "gentle"
    if arousal <= 0.15:
        return "steady"
    if arousal <= 0.45:
        return "upbeat"
    return "driving"


def describe_track(track: Track, *, arousal: float | None = None) -> str:
    """``"calm, major, 84 BPM"``: the track's mood (its mood tag if it has one, else its energy in the library
    when ``arousal`` — its library-relative place — is given, else a mood word from its features), mode and tempo."""
    from models.track_emotion import MOOD_VA

    mood = next((t for t in track.tags if t in MOOD_VA), None)
    if mood is None:
        mood = _energy_word(arousal) if arousal is not None else mood_words(track.features)
    parts = [mood]
    mode = track.features.get("mode")
    if mode is not None:
        parts.append("major" if float(mode) >= 0.5 else "minor")
    tempo = track.features.get("tempo")
    if tempo is not None and float(tempo) > 0:
        parts.append(f"{float(tempo):.0f} BPM")
    ac = track.features.get("acousticness")
    if ac is not None and float(ac) >= 0.6:
        parts.append("acoustic")
    return ", ".join(parts)


def describe_voice(emotion: EmotionEstimate) -> str:
    """Two plain words for a heard mood: ``"excited, positive"``, ``"subdued, negative"``."""
    a, v = emotion.arousal, emotion.valence
    vw = "positive" if v >= 0.25 else "neutral" if v > -0.2 else "negative"
    if a <= -0.3:
        aw = "subdued" if vw == "negative" else "calm"
    else:
        aw = "relaxed" if a <= 0.0 else "lively" if a <= 0.4 else "excited"
    return f"{aw}, {vw}"


def _for_whom(emotion: EmotionEstimate, source: str) -> str:
    words = describe_voice(emotion)
    if source == "voice":
        return f"for {'an' if words[0] in 'aeiou' else 'a'} {words} voice"
    if source == "text":
        return f"for {words} words"
    if source.startswith("mood"):
        return f"for the {source} you asked for"
    return f"for a {words} mood ({source})"


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
                from models.track_emotion import emotion_vector_from_features
                from models.types import LABELS

                m = np.asarray([emotion_vector_from_features(t.features) for t in tagged]).mean(axis=0)
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


# ---------------------------------------------------------------------------------------------------------
# ranking


def _usable(track: Track) -> bool:
    return all(track.features.get(k) is not None and np.isfinite(float(track.features[k])) for k in FEATURES)


def _order(dist: np.ndarray, seed: int | None) -> list[int]:
    """Indices sorted by distance; with a seed, runs of near-ties (each within :data:`NEAR_TIE_Z` of the run's
    best) are shuffled reproducibly. Without a seed, ties keep catalog order."""
    order = sorted(range(len(dist)), key=lambda i: (dist[i], i))
    if seed is None:
        return order
    rng = np.random.default_rng(seed)
    out: list[int] = []
    run: list[int] = []
    for i in order:
        if run and dist[i] - dist[run[0]] > NEAR_TIE_Z:
            out += [run[j] for j in rng.permutation(len(run))]
            run = []
        run.append(i)
    out += [run[j] for j in rng.permutation(len(run))]
    return out


def _weights(ctx: SelectionContext) -> np.ndarray:
    """Per-feature weights of the distance: :data:`TARGET_WEIGHTS` for energy and valence (their targets come
    straight from the voice's arousal and valence), the emotion → music model's held-out R² for the four it
    predicts."""
    w = np.asarray(ctx.music_model.weights, dtype=np.float64).copy()
    for k, v in TARGET_WEIGHTS.items():
        w[FEATURES.index(k)] = v
    return w


def _target_scores(emotion: EmotionEstimate, ctx: SelectionContext) -> np.ndarray:
    """The targets as normal scores (6,): energy from the emotion's arousal and valence from its valence (each
    divided by :data:`_VA_Z_SCALE`), the other four from the emotion → music model's prediction (the reference
    corpus' z-scores); all clipped to ±:data:`_Z_CLIP`."""
    z = np.asarray(ctx.music_model.predict_standardised([emotion])[0], dtype=np.float64)
    z[FEATURES.index("energy")] = emotion.arousal / _VA_Z_SCALE
    z[FEATURES.index("valence")] = emotion.valence / _VA_Z_SCALE
    return np.clip(z, -_Z_CLIP, _Z_CLIP)


def rank_tracks(
    emotion: EmotionEstimate,
    tracks: Sequence[Track],
    *,
    context: SelectionContext | None = None,
    seed: int | None = None,
    source: str = "voice",
    spread_over: Sequence[Track] | None = None,
) -> list[TrackChoice]:
    """Every usable track as a :class:`TrackChoice`, best first (distance plus group penalties, seeded near-ties).

    Parameters
    ----------
    emotion : the target emotion (the voice's overall estimate, or a mood's).
    tracks : candidate tracks (already filtered for vocals and ``avoid``); tracks without the six features are
        skipped.
    context : models and clusters; default :func:`load_context`.
    seed : breaks near-ties (distances within :data:`NEAR_TIE_Z`) reproducibly; None keeps catalog order.
    source : where the target came from, for the reasons.
    spread_over : the tracks whose spread defines percentiles and clusters (default: ``tracks``); pass the whole
        library when ``tracks`` is a subset (tracks already used, a tag), so positions do not shift.
    """
    ctx = context or load_context()
    usable = [t for t in tracks if _usable(t)]
    if not usable:
        return []
    base = [t for t in (spread_over if spread_over is not None else usable) if _usable(t)]
    ids = {t.id for t in base}
    base += [t for t in usable if t.id not in ids]
    spread = library_spread(base, context=ctx)
    index = {tid: i for i, tid in enumerate(spread.ids)}
    rows = np.asarray([index[t.id] for t in usable])

    w = _weights(ctx)
    target = _target_scores(emotion, ctx)
    e_cluster = int(ctx.emotion_clusters.assign_one(emotion))
    m_cluster = spread.music_cluster_of(target, w)

    z = spread.scores[rows]
    dist = np.sqrt(((z - target) ** 2 * w).sum(axis=1) / w.sum())
    in_m = spread.music_clusters[rows] == m_cluster
    in_e = spread.emotion_clusters[rows] == e_cluster
    score = dist + GROUP_PENALTY["music"] * ~in_m + GROUP_PENALTY["emotion"] * ~in_e
    order = _order(score, seed)

    any_inside = bool(np.any(in_m & in_e))
    best_inside = float(dist[in_m & in_e].min()) if any_inside else float("inf")
    for_whom = _for_whom(emotion, source)
    target_words = {k: spread.value_at(k, float(target[FEATURES.index(k)])) for k in ("energy", "valence", "tempo")}
    out = []
    for rank, i in enumerate(order):
        t = usable[i]
        r = rows[i]
        rule = RULES[0 if in_m[i] and in_e[i] else 1 if in_m[i] else 2 if in_e[i] else 3]
        reasons = [f"{describe_track(t, arousal=float(spread.arousal[r]))} — {for_whom}"]
        if rule != "intersection":
            if any_inside and dist[i] < best_inside:
                reasons.append("closer in sound than any track in the mood's groups")
            elif not any_inside and rank == 0:
                reasons.append("the closest in sound: no track of this library is in both of the mood's groups")
        out.append(TrackChoice(
            track=t, rule=rule, reasons=tuple(reasons), emotion_cluster=e_cluster, music_cluster=m_cluster,
            distance=float(dist[i]),
            extra={"target_scores": {k: round(float(target[j]), 3) for j, k in enumerate(FEATURES)},
                   "target_features": {k: round(v, 3) for k, v in target_words.items()},
                   "track_scores": {k: round(float(spread.scores[r, j]), 3) for j, k in enumerate(FEATURES)},
                   "track_valence": round(float(spread.valence[r]), 3),
                   "track_arousal": round(float(spread.arousal[r]), 3),
                   "track_emotion_cluster": int(spread.emotion_clusters[r]),
                   "track_music_cluster": int(spread.music_clusters[r]),
                   "score": round(float(score[i]), 4), "target": source, "library_size": len(spread.ids)}))
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

    from core.env import moodmix_home
    from library.catalog import open_catalog

    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    catalog = open_catalog(home=moodmix_home() / "folders" / key)
    from library.scan import find_audio_files

    n_files = len(find_audio_files([folder]).files)
    # a handful of files is analysed in this process: starting analysis processes would cost more than it saves
    catalog.add_paths([folder], tag_parent=True, jobs=1 if n_files <= 4 else None)
    return catalog


def _with_emotion(catalog: Any, tracks: list[Track], ctx: SelectionContext) -> list[Track]:
    """Fill in each track's emotion vector and emotion cluster (its place on this library's mood plane) and store
    them in the catalog, so ``library list`` and the plot show what selection saw."""
    usable = [t for t in tracks if _usable(t)]
    if not usable:
        return tracks
    spread = library_spread(usable, context=ctx)
    index = {tid: i for i, tid in enumerate(spread.ids)}
    out = []
    for t in tracks:
        if t.id not in index:
            out.append(t)
            continue
        i = index[t.id]
        vec = tuple(round(float(x), 6) for x in spread.emotion_vectors[i])
        cl = int(spread.emotion_clusters[i])
        mcl = int(spread.music_clusters[i])
        stale = t.emotion is None or len(t.emotion) != len(vec) or not np.allclose(t.emotion, vec, atol=1e-4)
        if stale or t.emotion_cluster != cl or t.music_cluster != mcl:
            t = replace(t, emotion=vec, emotion_cluster=cl, music_cluster=mcl)
            try:
                catalog.update(t.id, emotion=vec, emotion_cluster=cl, music_cluster=mcl)
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
    """The ``n`` best tracks for an emotion, best first (the pick, then the alternatives).

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
    pool = [t for t in all_tracks if not exclude_vocals or t.vocal is None or float(t.vocal) <= vocal_threshold]
    avoid_set = {str(a) for a in avoid}
    tracks = [t for t in pool if t.id not in avoid_set and t.path not in avoid_set]
    if not tracks:
        n_avoided = sum(1 for t in all_tracks if t.id in avoid_set or t.path in avoid_set)
        raise NoTrackFoundError(
            f"all {len(all_tracks)} tracks of the library were excluded ({n_avoided} already used"
            f"{', the rest have vocals' if exclude_vocals else ''}); add tracks, or allow vocals")
    pool = _with_emotion(catalog, pool, ctx)
    by_id = {t.id: t for t in pool}
    tracks = [by_id.get(t.id, t) for t in tracks]
    tagged = _tagged(tracks, mood) if mood else []
    if tagged:
        # A mood that is also a tag of the library: the tracks carrying it come first (a creator asking for
        # "calm" expects the calm folder), ranked among themselves the usual way; the rest follow.
        ids = {t.id for t in tagged}
        ranked = [replace(c, reasons=c.reasons + (f"tagged '{mood}' in the library, as --mood asked",))
                  for c in rank_tracks(target, tagged, context=ctx, seed=seed, source=source, spread_over=pool)]
        ranked += rank_tracks(target, [t for t in tracks if t.id not in ids], context=ctx, seed=seed,
                              source=source, spread_over=pool)
    else:
        ranked = rank_tracks(target, tracks, context=ctx, seed=seed, source=source, spread_over=pool)
    if not ranked:
        raise NoTrackFoundError(f"none of the {len(tracks)} library tracks has been analysed (no music features); "
                                "re-add them with `moodmix library add PATH`")
    return ranked[:n]
