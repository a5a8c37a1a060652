"""Audio DSP and media I/O: decode/probe (ffmpeg), speech activity, ducking, fit-to-length, loudness, render.

Signal convention: float32 arrays of shape ``(channels, samples)`` with the sample rate ``sr`` passed explicitly.
DSP modules take and return arrays, never mutate their input, never touch disk and import nothing from
:mod:`models` or :mod:`library`. Only ``decode``, ``render`` and ``media`` call ffmpeg.

Public names are re-exported lazily (PEP 562) so that importing one submodule does not pay for the
others (librosa, onnxruntime and torch are slow to import).
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ABS_GATE_LUFS": "mixer.loudness",
    "ANALYSIS_SR": "mixer.decode",
    "AUDIO_FORMATS": "mixer.formats",
    "AudioStreamInfo": "mixer.decode",
    "BeatGrid": "mixer.beats",
    "BedReader": "mixer.media",
    "DEPTH_PRESETS": "mixer.mixdown",
    "DecodedVoice": "mixer.decode",
    "FitPlan": "mixer.fit",
    "FitResult": "mixer.fit",
    "LEVELLER_PRESETS": "mixer.leveller",
    "LevellerSettings": "mixer.leveller",
    "MediaInfo": "mixer.decode",
    "MixMeter": "mixer.media",
    "MixPlan": "mixer.mixdown",
    "MixResult": "mixer.mixdown",
    "MixSettings": "mixer.mixdown",
    "OutputFormat": "mixer.formats",
    "OUTPUT_FORMATS": "mixer.formats",
    "REL_GATE_LU": "mixer.loudness",
    "SpeechActivity": "mixer.vad",
    "SpooledVoice": "mixer.decode",
    "StemWriter": "mixer.media",
    "VAD_SR": "mixer.vad",
    "VIDEO_FORMATS": "mixer.formats",
    "VideoStreamInfo": "mixer.decode",
    "atomic_path": "mixer.render",
    "build_bed": "mixer.crossfade_bed",
    "check_output_path": "mixer.render",
    "db_to_gain": "mixer.loudness",
    "decode_audio": "mixer.decode",
    "decode_voice": "mixer.decode",
    "default_output_path": "mixer.render",
    "detect_speech": "mixer.vad",
    "compressor_gain": "mixer.leveller",
    "duck_depth_db": "mixer.ducking",
    "duck_envelope": "mixer.ducking",
    "duck_gain_per_sample": "mixer.ducking",
    "equal_power_fades": "mixer.crossfade_bed",
    "ffmpeg_exe": "mixer.ffmpeg",
    "fit_to_length": "mixer.fit",
    "gain_to_db": "mixer.loudness",
    "gain_to_target_db": "mixer.loudness",
    "integrated_from_hop_power": "mixer.loudness",
    "integrated_loudness": "mixer.loudness",
    "interpolate_curve": "mixer.ducking",
    "k_weighting_sos": "mixer.loudness",
    "kweighted_hop_power": "mixer.loudness",
    "last_error_line": "mixer.ffmpeg",
    "leveller_for": "mixer.leveller",
    "limiter_gain": "mixer.limiter",
    "load_vad_model": "mixer.vad",
    "mix_voice_and_bed": "mixer.mixdown",
    "output_format": "mixer.formats",
    "output_rate": "mixer.render",
    "plan_fit": "mixer.fit",
    "plan_mix": "mixer.mixdown",
    "probe": "mixer.decode",
    "rider_gain_db": "mixer.leveller",
    "render": "mixer.render",
    "run_ffmpeg": "mixer.ffmpeg",
    "segment_span": "mixer.crossfade_bed",
    "short_term_from_hop_power": "mixer.loudness",
    "speech_mask": "mixer.ducking",
    "speech_probabilities": "mixer.vad",
    "spool_voice": "mixer.decode",
    "stream_mix": "mixer.media",
    "to_analysis": "mixer.decode",
    "track_beats": "mixer.beats",
    "true_peak_dbtp": "mixer.loudness",
    "true_peak_per_hop": "mixer.loudness",
    "write_wav_float": "mixer.render",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
