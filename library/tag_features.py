"""Spotify-scale energy, valence, danceability and acousticness from learned music tags plus audio descriptors.

The musicnn taggers (:mod:`library.musicnn`, trained by their authors on the Million Song Dataset's last.fm tags
and on MagnaTagATune's listener tags) say what people hear in a piece: "fast", "loud", "soft", "party", "sad",
"acoustic". Each feature here is one documented formula over those tags, fixed a priori from what the tags mean
(not fitted to any evaluation set), blended with the descriptor estimate of :mod:`library.features` that
measures the same quality from the signal (loudness, onsets, pulse, spectrum):

``score = mean(logit p, tags that raise it) − mean(logit p, tags that lower it)``;
``feature = w · σ(score / T) + (1 − w) · descriptor``, with ``T`` = :data:`TEMPERATURE` (a score of ±2 logits,
a clear majority of the evidence one way, reads as 0.12 / 0.88).

=============  ==========================================================  ==========================  =====
feature        raised by                                                   lowered by                    w
=============  ==========================================================  ==========================  =====
energy         MTT fast, loud, dance; MSD party, dance                     MTT slow, quiet, soft,       0.75
                                                                           ambient; MSD chill,
                                                                           chillout, Mellow, ambient,
                                                                           easy listening
valence        MSD happy, catchy, party, funk, dance, pop                  MSD sad, heavy metal,        0.3
                                                                           metal, hard rock, punk,
                                                                           experimental
danceability   MSD dance, party, House, funk, Hip-Hop, electro, catchy;    MTT classical, ambient,      0.6
               MTT dance, beat, beats, techno                              slow, new age; MSD ambient,
                                                                           experimental
acousticness   MSD acoustic, folk; MTT guitar, piano, strings, violin,     MTT electronic, techno,      0.6
               cello, harp, flute, classical                               synth; MSD electronic,
                                                                           electro, electronica, House
=============  ==========================================================  ==========================  =====

The weights say how far each tag set is trusted: the MagnaTagATune tags behind energy ("fast", "slow", "loud",
"soft", "quiet") are dense listener descriptions of the sound itself, so energy leans on them (0.75); the MSD
mood tags behind valence ("happy", "sad") are rare labels whose probabilities stay near zero on most
instrumental music, so valence keeps most of the descriptor estimate (0.3), which itself comes from the reference
corpus' model of valence given the descriptor features and the mode.

Vocals: :func:`vocal_presence` combines the taggers' "no vocals"/"instrumental" tags with the voice-activity
share, because singing and a voice-like lead both fire a VAD.
These are estimates on Spotify's 0–1 scales, not Spotify's models; ``benchmarks/track_emotion_agreement.py``
measures how they order the built-in library's mood folders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["RULES", "TEMPERATURE", "derive_features", "tag_score", "vocal_presence"]

#: Divides a tag score before the logistic squash.
TEMPERATURE = 1.0

#: feature → (tags that raise it, tags that lower it, weight of the tag estimate against the descriptor's).
#: Tag names are "msd:<tag>" or "mtt:<tag>" as the taggers spell them.
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "energy": (("mtt:fast", "mtt:loud", "mtt:dance", "msd:party", "msd:dance"),
               ("mtt:slow", "mtt:quiet", "mtt:soft", "mtt:ambient", "msd:chill", "msd:chillout", "msd:Mellow",
                "msd:ambient", "msd:easy listening"), 0.75),
    "valence": (("msd:happy", "msd:catchy", "msd:party", "msd:funk", "msd:dance", "msd:pop"),
                ("msd:sad", "msd:heavy metal", "msd:metal", "msd:hard rock", "msd:punk", "msd:experimental"), 0.3),
    "danceability": (("msd:dance", "msd:party", "msd:House", "msd:funk", "msd:Hip-Hop", "msd:electro", "msd:catchy",
                      "mtt:dance", "mtt:beat", "mtt:beats", "mtt:techno"),
                     ("mtt:classical", "mtt:ambient", "mtt:slow", "mtt:new age", "msd:ambient", "msd:experimental"),
                     0.6),
    "acousticness": (("msd:acoustic", "msd:folk", "mtt:guitar", "mtt:piano", "mtt:strings", "mtt:violin", "mtt:cello",
                      "mtt:harp", "mtt:flute", "mtt:classical"),
                     ("mtt:electronic", "mtt:techno", "mtt:synth", "msd:electronic", "msd:electro",
                      "msd:electronica", "msd:House"), 0.6),
}

_EPS = 1e-4


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _lookup(tags: Mapping[str, Mapping[str, float]], name: str) -> float:
    model, tag = name.split(":", 1)
    try:
        return float(tags[model][tag])
    except KeyError:
        raise KeyError(f"tag {name!r} missing from the tagger output") from None


def tag_score(tags: Mapping[str, Mapping[str, float]], feature: str) -> float:
    """The tag score (logits) of one feature: mean logit of the raising tags minus that of the lowering tags."""
    up, down, _ = RULES[feature]
    return (sum(_logit(_lookup(tags, t)) for t in up) / len(up)
            - sum(_logit(_lookup(tags, t)) for t in down) / len(down))


def derive_features(tags: Mapping[str, Mapping[str, float]], descriptors: Mapping[str, float]) -> dict[str, float]:
    """Energy, valence, danceability and acousticness in [0, 1].

    Parameters
    ----------
    tags : ``{"msd": {tag: p}, "mtt": {tag: p}}`` — the two taggers' mean probabilities.
    descriptors : the descriptor estimates of the same four features (:mod:`library.features`), in [0, 1].
    """
    out = {}
    for feature, (_, _, w) in RULES.items():
        s = tag_score(tags, feature)
        tag_est = 1.0 / (1.0 + math.exp(-s / TEMPERATURE))
        d = float(descriptors.get(feature, tag_est))
        out[feature] = round(min(1.0, max(0.0, w * tag_est + (1.0 - w) * d)), 4)
    return out


def vocal_presence(tags: Mapping[str, Mapping[str, float]], vad_share: float) -> float:
    """Vocal presence in [0, 1]: the VAD's share of voiced frames, confirmed or vetoed by the taggers.

    The taggers' instrumental evidence is ``max(MTT "no vocals", MTT "no vocal", MTT "no voice", MSD
    "instrumental")`` against their vocal evidence ``max(MTT "vocal", "vocals", "singing", "voice", "female",
    "male")``; the result is the VAD share scaled by how much the vocal evidence outweighs the instrumental one
    (a VAD firing on a lead synth in a piece the taggers call instrumental counts for little).
    """
    mtt = tags["mtt"]
    msd = tags["msd"]
    instrumental = max(mtt.get("no vocals", 0.0), mtt.get("no vocal", 0.0), mtt.get("no voice", 0.0),
                       msd.get("instrumental", 0.0))
    vocal = max(mtt.get(k, 0.0) for k in ("vocal", "vocals", "singing", "voice", "female", "male"))
    belief = vocal / (vocal + instrumental + 1e-6)
    return round(float(min(1.0, max(0.0, vad_share)) * min(1.0, 2.0 * belief)), 4)
