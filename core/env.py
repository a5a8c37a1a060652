"""Where moodmix keeps its files, and how one ``MOODMIX_*`` setting is read.

Only front ends (the CLI, the workers) and the few defaults that name a place on disk (the catalog file, caches)
read the environment; library code takes arguments.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["env_setting", "moodmix_home"]


def moodmix_home() -> Path:
    """``MOODMIX_HOME`` (catalog, caches, job files); default ``~/.moodmix``."""
    return Path(os.environ.get("MOODMIX_HOME") or Path.home() / ".moodmix")


def env_setting(name: str, default: str | None = None) -> str | None:
    """Read one ``MOODMIX_*`` setting; an empty value counts as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default
