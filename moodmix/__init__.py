"""moodmix: put the right background music under a creator's voice.

The distribution ships five top-level packages:

- :mod:`mixer`   audio DSP and media I/O (decode/probe, speech activity, ducking, fit, loudness, render)
- :mod:`models`  emotion recognition (voice, words, text), fusion, emotion→music-feature model, clusters
- :mod:`library` the music catalog: scan, features, clusters, selection
- :mod:`workers` Celery app and tasks, the HTTP upload API and its page
- :mod:`moodmix` (this one) the command line and the one function that runs the whole job
  (:func:`moodmix.pipeline.mix_file`), which the CLI, the Celery tasks and the API all call.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
