"""Write the mix: an audio file, or a video with its video stream copied and the new soundtrack.

- Audio outputs: wav (24-bit PCM), flac (24-bit), mp3 (192 kb/s), m4a/aac (AAC 192 kb/s), ogg/opus (Opus
  128 kb/s), stereo, at the input's rate when it is 44.1 or 48 kHz, else 48 kHz (Opus: always 48 kHz).
- Video outputs (same container as the input: mp4, mov, m4v, mkv, webm): ``-c:v copy`` (packets byte-identical,
  no re-encode), the new soundtrack replaces every audio stream (AAC; Opus in webm, which does not allow AAC),
  subtitles and attachments are copied where the container allows them. The soundtrack has exactly the video's
  length, so the output's duration matches the input's.
- The samples are streamed to ffmpeg's stdin block by block as raw float32 (no whole-file int16 copy).
- Atomic: ffmpeg writes a hidden temporary file in the output's folder that is renamed over the output only
  when everything succeeded; any failure removes it, so a failed run leaves no half-written file.

The ffmpeg graphs are built with ffmpeg-python and run as argument lists.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from core.errors import OutputPathError, UnsupportedFormatError
from mixer.decode import MediaInfo
from mixer.ffmpeg import ffmpeg_exe, last_error_line
from mixer.formats import AUDIO_FORMATS, VIDEO_FORMATS, OutputFormat, output_format

__all__ = [
    "AUDIO_FORMATS",
    "VIDEO_FORMATS",
    "OutputFormat",
    "atomic_path",
    "check_output_path",
    "default_output_path",
    "output_format",
    "output_rate",
    "render",
    "write_wav_float",
]

#: Frames per block streamed to ffmpeg (~1.4 s at 48 kHz).
BLOCK_FRAMES = 65536


def output_rate(input_sr: int, fmt: OutputFormat) -> int:
    """The output sample rate: the input's when it is 44.1 or 48 kHz (and the codec takes it), else 48 kHz."""
    if fmt.fixed_sr:
        return fmt.fixed_sr
    return input_sr if input_sr in (44100, 48000) else 48000


def default_output_path(input_path: str | Path, info: MediaInfo) -> Path:
    """``<input stem>.moodmix.<ext>`` beside the input: same container for a video, same extension for audio
    when moodmix writes it, else ``.wav``."""
    p = Path(input_path)
    ext = p.suffix.lower().lstrip(".")
    if info.has_video:
        ext = ext if ext in VIDEO_FORMATS else "mp4"
    elif ext not in AUDIO_FORMATS:
        ext = "wav"
    return p.with_name(f"{p.stem}.moodmix.{ext}")


def check_output_path(input_path: str | Path, output_path: str | Path) -> Path:
    """Refuse an output that is the input (same path or same file through a link); return the output path.

    Raises
    ------
    OutputPathError
    """
    src = Path(input_path)
    dst = Path(output_path)
    same = dst.resolve() == src.resolve()
    if not same and dst.exists() and src.exists():
        try:
            same = os.path.samefile(src, dst)
        except OSError:
            same = False
    if same:
        raise OutputPathError(
            f"output {dst} is the input file; moodmix never overwrites its input: choose another -o path"
        )
    if dst.is_dir():
        raise OutputPathError(f"output {dst} is a folder; give a file name such as {dst / 'mix.wav'}")
    return dst


def atomic_path(output_path: Path) -> Path:
    """A hidden temporary name in the output's folder (same file system, so the final rename is atomic)."""
    return output_path.with_name(f".{output_path.stem}.part-{secrets.token_hex(4)}{output_path.suffix}")


def _blocks(audio: np.ndarray, n_frames: int) -> Iterator[np.ndarray]:
    for i in range(0, n_frames, BLOCK_FRAMES):
        yield audio[:, i:min(n_frames, i + BLOCK_FRAMES)]


def _stereo_interleaved(block: np.ndarray) -> bytes:
    if block.shape[0] == 1:
        block = np.repeat(block, 2, axis=0)
    return np.ascontiguousarray(block[:2].T, dtype=np.float32).tobytes()


def render(
    audio: np.ndarray | Iterable[np.ndarray],
    sr: int,
    output_path: str | Path,
    *,
    video_source: MediaInfo | None = None,
    n_frames: int | None = None,
) -> Path:
    """Encode stereo float32 audio to ``output_path`` (format from its extension), atomically.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)] or iterable of such blocks
        The final mix at ``sr`` (1 or 2 channels; mono is written as two equal channels).
    sr : int
        Sample rate of ``audio``; use :func:`output_rate` to choose it.
    output_path : str or Path
        Its extension picks the format (:data:`AUDIO_FORMATS`, or :data:`VIDEO_FORMATS` with ``video_source``).
    video_source : MediaInfo, optional
        The probed input video whose video (and subtitle) streams are copied unchanged.
    n_frames : int, optional
        Number of frames to write from an array (default all).

    Returns
    -------
    Path
        The written output.

    Raises
    ------
    UnsupportedFormatError, OutputPathError
    """
    import ffmpeg

    out = Path(output_path)
    fmt = output_format(out, has_video=video_source is not None and video_source.has_video)
    if fmt.fixed_sr and sr != fmt.fixed_sr:
        raise UnsupportedFormatError(f"{fmt.codec} in .{fmt.ext} takes {fmt.fixed_sr} Hz audio, got {sr} Hz")
    if isinstance(audio, np.ndarray):
        if audio.ndim != 2 or audio.shape[0] not in (1, 2):
            raise ValueError(f"render expects audio of shape (1 or 2, samples), got {audio.shape}")
        blocks: Iterable[np.ndarray] = _blocks(audio, audio.shape[1] if n_frames is None else n_frames)
    else:
        blocks = audio
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(out)
    pcm = ffmpeg.input("pipe:0", format="f32le", ar=sr, ac=2)
    opts: dict[str, str] = {k: v for k, v in fmt.options}
    if fmt.video and video_source is not None:
        src = ffmpeg.input(str(video_source.path))
        streams = [src["v"], src["s?"], src["t?"], pcm]
        node = ffmpeg.output(*streams, str(tmp), format=fmt.muxer, vcodec="copy", scodec="copy",
                             acodec=fmt.codec, ar=sr, ac=2, **opts)
    else:
        node = ffmpeg.output(pcm, str(tmp), format=fmt.muxer, acodec=fmt.codec, ar=sr, ac=2, **opts)
    args = node.compile(cmd=ffmpeg_exe(), overwrite_output=True)
    args = [args[0], "-hide_banner", "-nostdin", "-v", "error", *args[1:]]
    ok = False
    try:
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            assert proc.stdin is not None
            broken = False
            try:
                for block in blocks:
                    proc.stdin.write(_stereo_interleaved(block))
            except BrokenPipeError:
                broken = True
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    broken = True
                code = proc.wait()
            err.seek(0)
            stderr = err.read()
        if code != 0 or broken:
            raise OutputPathError(f"could not write {out}: ffmpeg: {last_error_line(stderr)}")
        os.replace(tmp, out)
        ok = True
    finally:
        if not ok:
            tmp.unlink(missing_ok=True)
    return out


def write_wav_float(path: str | Path, audio: np.ndarray, sr: int) -> Path:
    """Write float32 ``(channels, samples)`` as a 32-bit float WAV, atomically (stems)."""
    import soundfile as sf

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(out)
    try:
        with sf.SoundFile(str(tmp), "w", samplerate=sr, channels=audio.shape[0], subtype="FLOAT",
                          format="WAV") as f:
            for block in _blocks(audio, audio.shape[1]):
                f.write(np.ascontiguousarray(block.T))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
