"""The bottom of moodmix's import graph: what every package shares and nothing else.

- :mod:`core.errors` — the one tree of domain exceptions (:class:`~core.errors.MoodmixError` and its children);
- :mod:`core.env` — ``MOODMIX_HOME`` and reading one ``MOODMIX_*`` setting;
- :mod:`core.lazy` — lazy re-exports for package ``__init__`` modules.

Modules here import only the standard library, so :mod:`mixer`, :mod:`models`, :mod:`library`, :mod:`workers` and
:mod:`moodmix` (the CLI and the pipeline, the top) all import *down* into it and never up into one another's tops.
"""
