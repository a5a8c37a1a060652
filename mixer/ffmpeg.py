"""Finding and running the ffmpeg binary.

ffmpeg comes from the system (``ffmpeg`` on ``PATH``) or, when there is none, from the ``imageio-ffmpeg`` wheel,
which bundles a static build; no manual install step. That wheel has no ``ffprobe``: probing is done with PyAV
(:mod:`mixer.decode`). Graphs are built with ffmpeg-python and run here with argument lists (never a shell).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence

from core.errors import DecodeError

__all__ = ["ffmpeg_exe", "last_error_line", "run_ffmpeg"]


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``ffmpeg`` on PATH, else imageio-ffmpeg's bundled build.

    Raises
    ------
    DecodeError
        When none of them exists.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # noqa: BLE001 - any failure means: no ffmpeg
        raise DecodeError(
            f"ffmpeg is not installed and imageio-ffmpeg has no binary for this platform ({exc}); "
            "install ffmpeg or the imageio-ffmpeg wheel"
        ) from None


def last_error_line(stderr: bytes | str) -> str:
    """The most telling line of ffmpeg's stderr (the last non-empty one), for one-line error messages."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def run_ffmpeg(args: Sequence[str], *, what: str, error: type[Exception] = DecodeError) -> bytes:
    """Run ffmpeg with ``args`` (without the program name); return stdout.

    Parameters
    ----------
    args : sequence of str
        Arguments after the program name.
    what : str
        Short description for the error message ("writing out.mp3").
    error : exception class
        Raised (with ffmpeg's last error line) when ffmpeg exits non-zero.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise error(f"ffmpeg failed {what}: {last_error_line(proc.stderr)}")
    return proc.stdout
