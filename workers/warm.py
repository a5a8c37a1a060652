"""Load the default models into the current process once, so the first job is not slower than the rest.

Called by each Celery pool process (``worker_process_init``) and each ``moodmix batch`` process. The models
cache themselves per process; this only makes the first call early. Best effort: a model that cannot load is
logged here and reported by the job that needs it.
"""

from __future__ import annotations

import logging
import time

__all__ = ["warm_models"]

log = logging.getLogger("moodmix.warm")


def warm_models() -> float:
    """Run the speech detector, the emotion models and the track selection once; return the seconds it took."""
    import numpy as np

    t0 = time.perf_counter()
    sr = 16000
    t = np.arange(sr, dtype=np.float32) / sr
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    try:
        from mixer.vad import detect_speech

        detect_speech(tone, sr)
    except Exception as exc:  # noqa: BLE001 - best effort, see the module docstring
        log.warning("could not warm the speech detector: %s", exc)
    try:
        from models.emotion_pass import analyse_speech
        from moodmix.settings import emotion_settings_from_env

        analyse_speech(tone, sr, [(0.0, 1.0)], settings=emotion_settings_from_env())
    except Exception as exc:  # noqa: BLE001
        log.warning("could not warm the emotion models: %s", exc)
    try:  # the selection models and the default catalog (built on first use in MOODMIX_HOME)
        from library.select import choose_tracks
        from models.types import neutral_estimate

        choose_tracks(neutral_estimate(), n=1)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not open the music catalog: %s", exc)
    return time.perf_counter() - t0
