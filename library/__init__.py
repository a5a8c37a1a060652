"""The music catalog: scan folders, compute the six music features, clusters, pick a track.

Public names are re-exported lazily (PEP 562) so that importing one submodule does not pay for the
others (librosa, onnxruntime and torch are slow to import).
"""

from __future__ import annotations

from moodmix._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ANALYSIS_SR": "library.features",
    "AUDIO_EXTENSIONS": "library.scan",
    "BEATS_PER_BAR": "library.follow",
    "Catalog": "library.catalog",
    "ClusterModel": "library.clusters",
    "FEATURES": "library.types",
    "InstrumentalSummary": "library.instrumentals",
    "KEY_NAMES": "library.features",
    "KEY_PROFILES": "library.features",
    "MIN_STRETCH_S": "library.follow",
    "MusicFeatures": "library.features",
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
    "add_instrumentals": "library.instrumentals",
    "analyse_audio": "library.features",
    "analyse_file": "library.features",
    "assign_cluster": "library.clusters",
    "builtin_dir": "library.builtin",
    "builtin_files": "library.builtin",
    "choose_tracks": "library.select",
    "cluster_means_table": "library.clusters",
    "content_hash": "library.scan",
    "default_catalog": "library.catalog",
    "default_url": "library.catalog",
    "derived_path": "library.instrumentals",
    "describe_track": "library.select",
    "ensure_builtin": "library.builtin",
    "estimate_key": "library.features",
    "estimate_tempo": "library.features",
    "find_audio_files": "library.scan",
    "integrated_loudness": "library.features",
    "load_builtin_features": "library.builtin",
    "load_clusters": "library.clusters",
    "load_context": "library.select",
    "mean_emotion": "library.follow",
    "mood_runs": "library.follow",
    "mood_words": "library.select",
    "needs_instrumental": "library.instrumentals",
    "open_catalog": "library.catalog",
    "plan_mood_segments": "library.follow",
    "rank_tracks": "library.select",
    "snap_to_bar": "library.follow",
    "standardise": "library.clusters",
    "target_emotion": "library.select",
    "track_id": "library.scan",
    "write_builtin_features": "library.builtin",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
