"""The install is what the lock says: every package pinned in constraints.lock is installed at that version."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_versions_match_the_lock() -> None:
    pins = {}
    for line in (REPO / "constraints.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    assert len(pins) > 100 and "torch" not in pins  # torch is pinned in constraints.txt
    for name in ("numpy", "typer", "faster-whisper", "transformers", "celery", "fastapi"):
        assert name in pins, name
    drift = {}
    for name, want in pins.items():
        try:
            got = md.version(name)
        except md.PackageNotFoundError:
            continue  # e.g. a marker-restricted dependency on another Python
        if got != want:
            drift[name] = (want, got)
    assert not drift, f"installed versions differ from constraints.lock: {drift}; rerun scripts/install.sh"
