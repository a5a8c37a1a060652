"""moodmix: put the right background music under a creator's voice.

The distribution ships six top-level packages, listed bottom to top of the import graph:

- :mod:`core`    the shared bottom: the error tree, ``MOODMIX_HOME`` and settings reading, checksums
- :mod:`mixer`   audio DSP and media I/O (decode/probe, speech activity, ducking, fit, loudness, render)
- :mod:`models`  emotion recognition (voice, words, text), fusion, emotion clusters, separation
- :mod:`library` the music catalog: scan, features, music clusters, the emotion→music model, selection
- :mod:`workers` Celery app and tasks, the HTTP upload API and its page
- :mod:`moodmix` (this one) the command line and the one function that runs the whole job
  (:func:`moodmix.pipeline.mix_file`), which the CLI, the Celery tasks and the API all call.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
