"""The music catalog: scan folders, compute the six music features, clusters, the emotion→music model, pick a track.

Public names are re-exported lazily (PEP 562) so that importing one submodule does not pay for the
others (librosa, onnxruntime and torch are slow to import).
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ANALYSIS_SR": "library.features",
    "AUDIO_EXTENSIONS": "library.scan",
    "BEATS_PER_BAR": "library.mood_plan",
    "Catalog": "library.catalog",
    "ClusterModel": "library.music_clusters",
    "FEATURES": "library.types",
    "InstrumentalSummary": "library.derived_instrumentals",
    "KEY_NAMES": "library.features",
    "KEY_PROFILES": "library.features",
    "MIN_STRETCH_S": "library.mood_plan",
    "MusicFeatures": "library.features",
    "MusicModel": "library.music_model",
    "NEAR_TIE_Z": "library.select",
    "ProgressCallback": "library.catalog",
    "SLOW_EXCERPT_BLOCKS": "library.features",
    "ScanResult": "library.scan",
    "ScanSummary": "library.catalog",
    "SelectionContext": "library.select",
    "Track": "library.types",
    "TrackChoice": "library.types",
    "UnknownMoodError": "library.select",
    "VOCAL_THRESHOLD": "library.select",
    "add_instrumentals": "library.derived_instrumentals",
    "analyse_audio": "library.features",
    "analyse_file": "library.features",
    "load_music_model": "library.music_model",
    "predict_features": "library.music_model",
    "assign_cluster": "library.music_clusters",
    "builtin_dir": "library.builtin",
    "builtin_files": "library.builtin",
    "choose_tracks": "library.select",
    "cluster_means_table": "library.music_clusters",
    "content_hash": "library.scan",
    "default_catalog": "library.catalog",
    "default_url": "library.catalog",
    "derived_path": "library.derived_instrumentals",
    "describe_track": "library.select",
    "ensure_builtin": "library.builtin",
    "estimate_key": "library.features",
    "estimate_tempo": "library.features",
    "find_audio_files": "library.scan",
    "integrated_loudness": "library.features",
    "load_builtin_features": "library.builtin",
    "load_clusters": "library.music_clusters",
    "load_context": "library.select",
    "mean_emotion": "library.mood_plan",
    "mood_runs": "library.mood_plan",
    "mood_words": "library.select",
    "needs_instrumental": "library.derived_instrumentals",
    "open_catalog": "library.catalog",
    "plan_mood_segments": "library.mood_plan",
    "rank_tracks": "library.select",
    "snap_to_bar": "library.mood_plan",
    "standardise": "library.music_clusters",
    "target_emotion": "library.select",
    "track_id": "library.scan",
    "write_builtin_features": "library.builtin",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
