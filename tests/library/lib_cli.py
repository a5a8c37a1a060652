"""Running `moodmix library ...` in-process for the library tests."""

from __future__ import annotations

import pytest

from moodmix.cli import main


def run_library(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``moodmix library ARGS`` → (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(["library", *args])
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err
