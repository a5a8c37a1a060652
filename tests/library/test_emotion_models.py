"""Track emotion from features, the shipped emotion clusters and the emotion → music-features model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InvalidAudioError, ModelLoadError
from library.music_model import MODEL_PATH, emotion_matrix, load_music_model, predict_features
from models.emotion_clusters import (
    CLUSTERS_PATH,
    EmotionClusters,
    assign_emotion_cluster,
    describe_va,
    fit_emotion_clusters,
    load_emotion_clusters,
)
from models.mapping import LABEL_VA, labels_from_va
from models.track_emotion import (
    emotion_from_features,
    emotion_vectors_from_table,
    mood_emotion,
    track_emotion,
    va_from_features,
)
from models.types import LABELS, EmotionEstimate
from tests.library.conftest import PROFILES, estimate


def test_va_from_features_orders_moods() -> None:
    va = {m: va_from_features(f) for m, f in PROFILES.items()}
    assert va["energetic"][1] > va["happy"][1] > va["tender"][1] > va["calm"][1]
    assert va["happy"][0] > va["tender"][0] > va["nostalgic"][0]
    assert all(-1 <= v <= 1 and -1 <= a <= 1 for v, a in va.values())
    extreme = va_from_features({"valence": 1.0, "energy": 1.0, "mode": 1, "tempo": 400})
    assert extreme == (1.0, 1.0)


def test_emotion_from_features_is_a_valid_estimate() -> None:
    e = emotion_from_features(PROFILES["happy"])
    assert set(e.labels) == set(LABELS) and sum(e.labels.values()) == pytest.approx(1.0)
    assert e.top() == "joy"
    assert emotion_from_features(PROFILES["calm"]).arousal < 0


def test_vectorised_table_matches_single() -> None:
    f = PROFILES["nostalgic"]
    table = emotion_vectors_from_table(np.array([f["valence"]]), np.array([f["energy"]]), np.array([f["mode"]]),
                                       np.array([f["tempo"]]))
    np.testing.assert_allclose(table[0], emotion_from_features(f).vector(), atol=1e-12)


def test_track_emotion_arguments() -> None:
    with pytest.raises(InvalidAudioError, match="needs audio and sr"):
        track_emotion(method="voice")
    with pytest.raises(ValueError, match="features"):
        track_emotion(None)


@pytest.mark.model
def test_track_emotion_voice_method_runs_the_voice_model(sine_fn) -> None:  # type: ignore[no-untyped-def]
    e = track_emotion(audio=sine_fn(16000, 220.0, 3.0), sr=16000, method="voice")
    assert sum(e.labels.values()) == pytest.approx(1.0) and -1 <= e.arousal <= 1


def test_mood_emotion() -> None:
    assert mood_emotion("Calm").arousal < -0.5
    assert mood_emotion("anger").labels["anger"] == 1.0
    assert mood_emotion("nope") is None


def test_describe_va() -> None:
    assert describe_va(0.3, -0.6) == "calm, warm"
    assert describe_va(-0.6, 0.7) == "intense, dark"


def test_fit_emotion_clusters_picks_k_by_silhouette(rng: np.random.Generator) -> None:
    centres = [[*labels_from_va(*LABEL_VA[k]).values(), *LABEL_VA[k]] for k in ("sadness", "joy", "anger")]
    x = np.vstack([np.asarray(c) + 0.02 * rng.standard_normal((40, 8)) for c in centres])
    clusters, scores = fit_emotion_clusters(x, k_range=range(2, 6))
    assert clusters.k == 3 and scores[3] == max(scores.values())
    labels = clusters.assign(x)
    assert len(set(labels[:40])) == 1 and len(set(labels)) == 3
    # ids ordered by arousal: sadness lowest
    assert clusters.assign_one(centres[0]) == 0


def test_shipped_emotion_clusters_separate_the_six_labels() -> None:
    d = json.loads(CLUSTERS_PATH.read_text())
    best_k = max(d["silhouette"], key=lambda k: d["silhouette"][k])
    assert int(best_k) == d["k"]
    cl = load_emotion_clusters()
    sad = assign_emotion_cluster(estimate(*LABEL_VA["sadness"]))
    joy = assign_emotion_cluster(estimate(*LABEL_VA["joy"]))
    anger = assign_emotion_cluster(estimate(*LABEL_VA["anger"]))
    assert len({sad, joy, anger}) == 3
    assert cl.describe(sad).startswith(("calm", "relaxed"))


def test_load_emotion_clusters_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelLoadError, match="cannot read"):
        load_emotion_clusters(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"centres": [[0.0, 1.0]]}))
    with pytest.raises(ModelLoadError, match="shape"):
        load_emotion_clusters(bad)


def test_emotion_clusters_reject_wrong_width() -> None:
    cl = EmotionClusters(np.zeros((2, 8)), {})
    with pytest.raises(ValueError, match="8 values"):
        cl.assign([[0.0, 1.0]])


@pytest.mark.model
def test_music_model_maps_arousal_to_energy_and_tempo() -> None:
    m = load_music_model()
    angry, sad, happy, calm = (estimate(-0.65, 0.75), estimate(-0.7, -0.45), estimate(0.8, 0.45),
                               estimate(0.4, -0.6))
    pred = {n: predict_features(e, model=m) for n, e in
            (("angry", angry), ("sad", sad), ("happy", happy), ("calm", calm))}
    assert pred["angry"]["energy"] > pred["calm"]["energy"] + 0.3
    assert pred["angry"]["tempo"] > pred["sad"]["tempo"]
    assert pred["happy"]["valence"] > pred["sad"]["valence"] + 0.3
    assert pred["happy"]["mode"] > pred["sad"]["mode"]
    for p in pred.values():
        assert 0 <= p["energy"] <= 1 and 40 <= p["tempo"] <= 220
    # standardised round trip
    raw = m.predict([angry])
    np.testing.assert_allclose(m.standardise(raw) * m.scale + m.mean, raw, atol=1e-9)


@pytest.mark.model
def test_music_model_metadata_documents_training_pairs() -> None:
    meta = load_music_model().meta
    assert meta["training_pairs"]["spotify"]["n"] > 20000
    assert "affect_prior" in meta["training_pairs"]
    assert meta["heldout"]["catboost"]["all"]["r2"] > meta["heldout"]["mean_baseline"]["all"]["r2"] + 0.3
    assert MODEL_PATH.stat().st_size < 5_000_000


def test_music_model_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelLoadError, match="not found"):
        load_music_model(tmp_path / "x.cbm")
    (tmp_path / "y.cbm").write_bytes(b"not a model")
    (tmp_path / "y.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="could not load"):
        load_music_model(tmp_path / "y.cbm")
    with pytest.raises(ValueError, match="8 values"):
        emotion_matrix([[0.1, 0.2]])
    assert emotion_matrix([EmotionEstimate(labels_from_va(0, 0), 0.0, 0.0, 1.0)]).shape == (1, 8)
