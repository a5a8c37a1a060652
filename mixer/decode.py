"""Probe and decode media files to float32 arrays.

- :func:`probe` reads the container with PyAV (imageio-ffmpeg ships no ``ffprobe``) and returns a frozen
  :class:`MediaInfo`: the first audio stream, the first real video stream (cover art is not video), the rest.
- :func:`decode_audio` pipes the audio stream through ffmpeg as raw float32 at the rate and channel count asked
  for, de-interleaving block by block into one preallocated ``(channels, samples)`` array (no 2x peak copy).
- :func:`decode_voice` does both and adds the analysis copy: mono (the mean of the channels, not ffmpeg's
  downmix matrix, which is louder by up to 3 dB) resampled to 16 kHz with soxr.

Every failure a user can cause (missing, corrupt, truncated, no audio stream, zero length) raises
:class:`~core.errors.DecodeError` with a one-line message.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from core.errors import DecodeError
from mixer.ffmpeg import ffmpeg_exe, last_error_line

__all__ = [
    "ANALYSIS_SR",
    "AudioStreamInfo",
    "DecodedVoice",
    "MediaInfo",
    "SpooledVoice",
    "VideoStreamInfo",
    "decode_audio",
    "decode_voice",
    "measure_file_loudness",
    "iter_audio_blocks",
    "probe",
    "spool_voice",
    "to_analysis",
]

#: Sample rate of the analysis copy (VAD, emotion models).
ANALYSIS_SR = 16000

#: Raw bytes read from ffmpeg per block (1 MiB ≈ 2.7 s of 48 kHz stereo float32).
_BLOCK_BYTES = 1 << 20


class _PcmReader:
    """Run an ffmpeg command that writes interleaved float32 PCM to stdout and read it in frame-aligned blocks.

    ``with _PcmReader(cmd, channels) as pcm: for block in pcm.blocks(): ...`` yields float32 arrays shaped
    ``(frames, channels)`` (views of the bytes read, ~1 MiB each); after the ``with`` block ``pcm.returncode`` and
    ``pcm.stderr`` hold ffmpeg's exit status and its stderr (kept in a temporary file, so a chatty ffmpeg never
    blocks on a full pipe).
    """

    def __init__(self, cmd: list[str], channels: int) -> None:
        self._cmd = cmd
        self._channels = channels
        self.returncode: int | None = None
        self.stderr = b""

    def __enter__(self) -> Self:
        self._err = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, stderr=self._err)
        except BaseException:
            self._err.close()
            raise
        return self

    def blocks(self) -> Iterator[np.ndarray]:
        stdout = self._proc.stdout
        assert stdout is not None
        frame_bytes = 4 * self._channels
        rest = b""
        while True:
            chunk = stdout.read(_BLOCK_BYTES)
            if not chunk:
                return
            if rest:
                chunk = rest + chunk
            usable = len(chunk) - len(chunk) % frame_bytes
            rest = chunk[usable:]
            k = usable // frame_bytes
            if k:
                yield np.frombuffer(chunk, dtype=np.float32, count=k * self._channels).reshape(k, self._channels)

    def __exit__(self, *exc: object) -> None:
        try:
            assert self._proc.stdout is not None
            self._proc.stdout.close()
            self.returncode = self._proc.wait()
            self._err.seek(0)
            self.stderr = self._err.read()
        finally:
            self._err.close()

#: A decode that yields less than this share of the probed duration (and > 0.5 s less) is a truncated file, for
#: containers whose duration is an estimate (MP3 without a Xing header, ADTS AAC, Ogg...).
_TRUNCATED_RATIO = 0.9
#: Containers whose header states the exact length (WAV's data chunk, FLAC's STREAMINFO, MP4's moov): any shortfall
#: beyond this (seconds, or 1 % of the length) is truncation.
_EXACT_LENGTH_CONTAINERS = ("wav", "flac", "mov,mp4,m4a,3gp,3g2,mj2", "w64", "aiff")
_EXACT_SLACK_S = 0.25


def _fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def truncated_message(name: str, header_s: float, holds_s: float) -> str:
    """The one-line refusal of a file whose header promises more audio than its data holds."""
    return (f"{name} is truncated: the header says {_fmt_s(header_s)} s, the file holds {_fmt_s(holds_s)} s; "
            "re-export or re-download the file")


def _wav_header_check(p: Path) -> None:
    """Refuse a RIFF/WAVE file whose data chunk is cut short: the header's ``data`` size against the bytes that
    follow it (PyAV estimates a WAV's duration from the file size, so a cut WAV would otherwise look whole)."""
    import struct

    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos, block_align, rate = 12, 0, 0
        while pos + 8 <= size:
            f.seek(pos)
            hdr = f.read(8)
            if len(hdr) < 8:
                return
            cid, csize = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(16)
                if len(fmt) < 16:
                    return
                _, _, rate, _, block_align = struct.unpack("<HHIIH", fmt[:14])
            elif cid == b"data":
                if not block_align or not rate or csize in (0, 0xFFFFFFFF):
                    return  # streamed WAV (size unknown): nothing promised
                header_s = csize / block_align / rate
                holds_s = max(0, min(csize, size - pos - 8)) // block_align / rate
                if header_s - holds_s > max(_EXACT_SLACK_S, 0.01 * header_s):
                    raise DecodeError(truncated_message(p.name, header_s, holds_s))
                return
            pos += 8 + csize + (csize & 1)


@dataclass(frozen=True)
class AudioStreamInfo:
    """The audio stream that will be decoded: index in the container, codec, native rate, channels, length."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    #: False when the container names no speaker positions (e.g. a 9-channel WAV without a channel mask):
    #: ffmpeg's downmix cannot fold such a stream, so :func:`_pcm_command` averages its channels itself.
    layout_known: bool = True


@dataclass(frozen=True)
class VideoStreamInfo:
    """The video stream that a video output copies: codec, frame size, average frame rate, length."""

    index: int
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frames: int


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in a file."""

    path: Path
    container: str
    duration_s: float
    audio: AudioStreamInfo | None
    video: VideoStreamInfo | None
    other_streams: tuple[str, ...] = ()  # "subtitle:mov_text", "data:bin_data", ... (kept in video outputs)

    @property
    def has_video(self) -> bool:
        return self.video is not None


@dataclass(frozen=True)
class DecodedVoice:
    """A decoded voice input.

    audio : float32 (channels, samples) at ``sr`` — full quality, kept for the output (1 or 2 channels); the
        voice starts at frame ``start`` and lasts ``frames`` (silence around it when padding was asked for).
    analysis : float32 (1, samples) at :data:`ANALYSIS_SR` — the voice alone (no padding), mean of the
        channels, for VAD and emotion.
    """

    audio: np.ndarray
    sr: int
    analysis: np.ndarray
    info: MediaInfo
    start: int = 0
    frames: int = -1

    @property
    def voice(self) -> np.ndarray:
        """The voice without padding (a view)."""
        n = self.audio.shape[1] - self.start if self.frames < 0 else self.frames
        return self.audio[:, self.start:self.start + n]

    @property
    def duration_s(self) -> float:
        """Length of the voice alone in seconds."""
        return self.voice.shape[1] / self.sr


def _stream_duration_s(stream, container_duration_s: float) -> float:  # type: ignore[no-untyped-def]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container_duration_s


def probe(path: str | Path) -> MediaInfo:
    """Read a media file's streams and durations without decoding.

    Parameters
    ----------
    path : str or Path
        The media file.

    Returns
    -------
    MediaInfo

    Raises
    ------
    DecodeError
        Missing file, a folder, or a file that no demuxer recognises (corrupt or not media).
    """
    import av

    p = Path(path)
    if not p.exists():
        raise DecodeError(f"input file not found: {p}")
    if p.is_dir():
        raise DecodeError(f"input is a folder, not a media file: {p}")
    if p.stat().st_size == 0:
        raise DecodeError(f"input file is empty (0 bytes): {p}")
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise DecodeError(
            f"cannot read {p.name} as audio or video ({exc.strerror or exc}); the file is corrupt, truncated "
            "or not a media file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DecodeError(f"cannot open {p}: {exc}") from None
    try:
        cdur = float(container.duration) / 1e6 if container.duration else 0.0
        audio = video = None
        others: list[str] = []
        for s in container.streams:
            kind = s.type
            codec = s.codec_context.name if s.codec_context is not None else "unknown"
            if kind == "audio" and audio is None:
                audio = AudioStreamInfo(
                    index=s.index,
                    codec=codec,
                    sample_rate=int(s.codec_context.sample_rate or 0),
                    channels=int(s.codec_context.channels or 0),
                    duration_s=_stream_duration_s(s, cdur),
                    layout_known=_layout_known(s),
                )
            elif kind == "video" and video is None and not (s.disposition & av.stream.Disposition.attached_pic):
                rate = s.average_rate or s.guessed_rate or s.base_rate
                fps = float(rate) if rate else 0.0
                vdur = _stream_duration_s(s, cdur)
                frames = int(s.frames) if s.frames else int(round(vdur * fps))
                video = VideoStreamInfo(
                    index=s.index, codec=codec, width=int(s.codec_context.width or 0),
                    height=int(s.codec_context.height or 0), fps=fps, duration_s=vdur, frames=frames,
                )
            elif kind != "audio":
                others.append(f"{kind}:{codec}")
        fmt = container.format.name
    finally:
        container.close()
    if fmt == "wav":
        _wav_header_check(p)
    duration = cdur or (audio.duration_s if audio else 0.0) or (video.duration_s if video else 0.0)
    return MediaInfo(path=p, container=fmt, duration_s=duration, audio=audio, video=video,
                     other_streams=tuple(others))


def _layout_known(stream) -> bool:  # type: ignore[no-untyped-def]
    try:
        names = [ch.name for ch in stream.codec_context.layout.channels]
    except (AttributeError, ValueError):
        return False
    return bool(names) and all(n and n != "NONE" and not n.startswith("USR") for n in names)


def _fold_filter(a: AudioStreamInfo, channels: int) -> str:
    """A ``pan`` filter for more than 2 source channels without named positions: every channel averaged into
    each output channel (no left or right is known, so none is favoured; the analysis copy is their mean
    anyway). Streams with a named layout (5.1, 7.1...) keep ffmpeg's standard downmix."""
    if a.channels <= 2 or a.layout_known:
        return ""
    gain = f"{1.0 / a.channels:.6g}"
    mix = "+".join(f"{gain}*c{i}" for i in range(a.channels))
    outs = "|".join(f"c{k}={mix}" for k in range(channels))
    return f"pan={'mono' if channels == 1 else 'stereo'}|{outs},"


def _pcm_command(info: MediaInfo, a: AudioStreamInfo, sr: int, channels: int) -> list[str]:
    """ffmpeg arguments that write the audio stream as raw interleaved float32 to stdout."""
    import ffmpeg

    node = ffmpeg.input(str(info.path)).output(
        "pipe:1", map=f"0:{a.index}", vn=None, sn=None, dn=None,
        af=f"{_fold_filter(a, channels)}aresample={sr}:resampler=soxr",
        ac=channels, ar=sr, format="f32le", acodec="pcm_f32le",
    )
    args = node.compile(cmd=ffmpeg_exe())
    return [args[0], "-hide_banner", "-nostdin", "-v", "error", *args[1:]]


def _check_result(info: MediaInfo, a: AudioStreamInfo, code: int, stderr: bytes, decoded: int, sr: int,
                  check_truncation: bool = True) -> None:
    if code != 0:
        raise DecodeError(
            f"cannot decode the audio of {info.path.name}: {last_error_line(stderr)}; the file is corrupt or "
            "truncated"
        )
    if decoded == 0:
        raise DecodeError(f"{info.path.name} has an audio stream but no samples (zero-length audio)")
    announced_s = a.duration_s or info.duration_s
    got_s = decoded / sr
    if not check_truncation or announced_s <= 0:
        return
    if info.container in _EXACT_LENGTH_CONTAINERS:
        short = announced_s - got_s > max(_EXACT_SLACK_S, 0.01 * announced_s)
    else:
        short = got_s < _TRUNCATED_RATIO * announced_s and announced_s - got_s > 0.5
    if short:
        raise DecodeError(truncated_message(info.path.name, announced_s, got_s))


def _require_audio(info: MediaInfo) -> AudioStreamInfo:
    """The audio stream, checked against :data:`mixer.limits.DEFAULT_LIMITS` (rate, channels, work)."""
    from mixer.limits import check_input

    if info.audio is None:
        found = ", ".join(([f"video:{info.video.codec}"] if info.video else []) + list(info.other_streams))
        raise DecodeError(
            f"{info.path.name} has no audio stream (found: {found or 'nothing'}); give a file with a voice track"
        )
    a = info.audio
    check_input(sample_rate=a.sample_rate, channels=a.channels, duration_s=max(a.duration_s, info.duration_s),
                name=info.path.name)
    return a


def decode_audio(
    path: str | Path,
    *,
    sr: int,
    channels: int,
    info: MediaInfo | None = None,
    check_truncation: bool = True,
    pad_before: int = 0,
    pad_after: int = 0,
    length: int | None = None,
) -> tuple[np.ndarray, MediaInfo]:
    """Decode the first audio stream of a file to float32 ``(channels, samples)`` at ``sr``.

    Parameters
    ----------
    path : str or Path
        Any file ffmpeg reads (audio or video).
    sr : int
        Output rate in Hz; ffmpeg resamples with soxr when it differs from the stream's.
    channels : int
        1 or 2. More source channels are folded by ffmpeg's standard downmix.
    info : MediaInfo, optional
        A previous :func:`probe` of the same file.
    check_truncation : bool
        Raise when clearly less audio decodes than the container announces.
    pad_before, pad_after : int
        Frames of silence before and after the decoded audio (the intro and outro of the bed), allocated with
        the decode buffer so that placing the voice in a longer timeline costs no copy.
    length : int, optional
        Exact length of the result in frames: the padded audio is cut or zero-extended to it (a video's length).

    Returns
    -------
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
        ``samples = pad_before + decoded + pad_after``, or ``length``.
    info : MediaInfo

    Raises
    ------
    DecodeError
        No audio stream, corrupt or truncated data, zero decoded samples.
    """
    audio, info, _ = _decode(path, sr, channels, info, check_truncation, pad_before, pad_after, length)
    return audio, info


def _decode(
    path: str | Path,
    sr: int,
    channels: int,
    info: MediaInfo | None,
    check_truncation: bool,
    pad_before: int,
    pad_after: int,
    length: int | None,
) -> tuple[np.ndarray, MediaInfo, int]:
    """:func:`decode_audio`, also returning the number of frames actually decoded."""
    if sr <= 0 or channels not in (1, 2):
        raise ValueError(f"decode_audio needs sr > 0 and 1 or 2 channels, got sr={sr}, channels={channels}")
    info = info or probe(path)
    a = _require_audio(info)
    expected = int(max(a.duration_s, info.duration_s) * sr) + sr // 10 + 1
    if pad_before < 0 or pad_after < 0 or (length is not None and length < 0):
        raise ValueError(f"padding and length must be >= 0, got {pad_before}, {pad_after}, {length}")
    cmd = _pcm_command(info, a, sr, channels)
    # zeros come from calloc: pages of padding that are never written cost no time
    cap = max(pad_before + expected + pad_after, length or 0, 1)
    out = np.zeros((channels, cap), dtype=np.float32)
    frames = pad_before
    with _PcmReader(cmd, channels) as pcm:
        for block in pcm.blocks():
            k = block.shape[0]
            if frames + k > out.shape[1]:  # the container under-announced its length: grow by 25 %
                grown = np.zeros((channels, max(frames + k, int(out.shape[1] * 1.25))), dtype=np.float32)
                grown[:, :frames] = out[:, :frames]
                out = grown
            out[:, frames:frames + k] = block.T
            frames += k
    code, stderr = pcm.returncode, pcm.stderr
    decoded = frames - pad_before
    _check_result(info, a, code, stderr, decoded, sr, check_truncation)
    n = length if length is not None else frames + pad_after
    if n > out.shape[1]:
        grown = np.zeros((channels, n), dtype=np.float32)
        grown[:, :frames] = out[:, :frames]
        out = grown
    out[:, frames:n] = 0.0  # a growth step may have left decoded-but-unused space
    return out[:, :n], info, decoded


def measure_file_loudness(path: str | Path, *, info: MediaInfo | None = None) -> float:
    """Integrated loudness (LUFS, BS.1770-4) of a file's first audio stream as a player decodes it, streamed block
    by block (memory: one block, whatever the length); ``-inf`` for silence. Used to land lossy outputs on their
    target as decoded.

    Raises
    ------
    DecodeError
    """
    from mixer.loudness import integrated_from_hop_power, kweighted_hop_power

    info = info or probe(path)
    a = _require_audio(info)
    sr = int(a.sample_rate or 48000)
    channels = 1 if a.channels == 1 else 2
    hop = max(1, sr // 100)
    zi = None
    powers: list[np.ndarray] = []
    carry = np.zeros((channels, 0), np.float32)
    decoded = 0
    with _PcmReader(_pcm_command(info, a, sr, channels), channels) as pcm:
        for block in pcm.blocks():
            decoded += block.shape[0]
            x = np.concatenate([carry, block.T], axis=1)
            k = x.shape[1] // hop * hop
            if k:
                p, zi = kweighted_hop_power(x[:, :k], sr, hop, zi)
                powers.append(p)
            carry = x[:, k:]
    _check_result(info, a, pcm.returncode or 0, pcm.stderr, decoded, sr)
    return integrated_from_hop_power(np.concatenate(powers) if powers else np.zeros(0), hop / sr)


def to_analysis(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono (mean of the channels) at :data:`ANALYSIS_SR`, float32 ``(1, samples)``."""
    import soxr

    mono = audio[0] if audio.shape[0] == 1 else audio.mean(axis=0, dtype=np.float32)
    if sr == ANALYSIS_SR:
        return np.ascontiguousarray(mono, dtype=np.float32)[None, :]
    y = soxr.resample(np.ascontiguousarray(mono), sr, ANALYSIS_SR, quality="HQ")
    return np.asarray(y, dtype=np.float32)[None, :]


def decode_voice(
    path: str | Path,
    *,
    sr: int | None = None,
    info: MediaInfo | None = None,
    pad_before: int = 0,
    pad_after: int = 0,
    length: int | None = None,
) -> DecodedVoice:
    """Decode a voice input (audio file or the soundtrack of a video).

    Parameters
    ----------
    path : str or Path
    sr : int, optional
        Rate of the full-quality copy; default the stream's own rate.
    info : MediaInfo, optional
        A previous :func:`probe` of the same file.
    pad_before, pad_after, length : int
        Place the voice in a longer (or exact-length) timeline without a copy; see :func:`decode_audio`.

    Returns
    -------
    DecodedVoice
        Full-quality audio (1 channel for mono sources, else 2) and the 16 kHz mono analysis copy.
    """
    info = info or probe(path)
    a = _require_audio(info)
    rate = int(sr or a.sample_rate or 48000)
    channels = 1 if a.channels == 1 else 2
    audio, info, decoded = _decode(info.path, rate, channels, info, True, pad_before, pad_after, length)
    frames = min(decoded, max(0, audio.shape[1] - pad_before))  # the decoded part inside the timeline
    voice = audio[:, pad_before:pad_before + frames]
    return DecodedVoice(audio=audio, sr=rate, analysis=to_analysis(voice, rate), info=info, start=pad_before,
                        frames=frames)


class SpooledVoice:
    """A voice placed in the output's timeline, read by blocks, held in a temporary file (not in RAM).

    It is a block reader for :func:`mixer.mixdown.plan_mix`: ``voice(i0, i1)`` returns float32
    ``(channels, i1 - i0)``, silence outside ``[start, start + frames)``; ``n_samples`` is the timeline length.
    The samples live as raw interleaved float32 in an unnamed temporary file (removed by :meth:`close`, or by the
    OS if the process dies), so an hour of 48 kHz audio costs page cache, not process memory.

    Attributes
    ----------
    sr, channels, n_samples, start, frames : int
    analysis : np.ndarray [shape=(1, samples)], float32 — the voice alone, mono mean, at :data:`ANALYSIS_SR`.
    info : MediaInfo
    """

    def __init__(self, file, *, sr: int, channels: int, n_samples: int, start: int, frames: int,  # type: ignore[no-untyped-def]
                 analysis: np.ndarray, info: MediaInfo) -> None:
        self._file = file
        self.sr, self.channels, self.n_samples = sr, channels, n_samples
        self.start, self.frames = start, frames
        self.analysis, self.info = analysis, info

    @classmethod
    def from_array(cls, voice: np.ndarray, *, sr: int, n_samples: int, start: int, analysis: np.ndarray,
                   info: MediaInfo) -> SpooledVoice:
        """Spool an in-memory voice ``(channels, frames)`` (e.g. an isolated voice) into a timeline."""
        f = tempfile.TemporaryFile(prefix="moodmix-voice-")
        frames = max(0, min(voice.shape[1], n_samples - start))
        for i in range(0, frames, 1 << 16):
            f.write(np.ascontiguousarray(voice[:, i:min(frames, i + (1 << 16))].T, dtype=np.float32).tobytes())
        f.flush()
        return cls(f, sr=sr, channels=voice.shape[0], n_samples=n_samples, start=start, frames=frames,
                   analysis=analysis, info=info)

    def __call__(self, i0: int, i1: int) -> np.ndarray:
        i0, i1 = max(0, i0), min(self.n_samples, i1)
        out = np.zeros((self.channels, max(0, i1 - i0)), dtype=np.float32)
        a, b = max(i0, self.start), min(i1, self.start + self.frames)
        if b > a:
            nbytes = (b - a) * self.channels * 4
            raw = os.pread(self._file.fileno(), nbytes, (a - self.start) * self.channels * 4)
            if len(raw) != nbytes:
                raise OSError(f"voice spool file is short: wanted {nbytes} bytes, read {len(raw)}")
            out[:, a - i0:b - i0] = np.frombuffer(raw, dtype=np.float32).reshape(b - a, self.channels).T
        return out

    @property
    def duration_s(self) -> float:
        """Length of the voice alone in seconds."""
        return self.frames / self.sr

    def voice(self) -> np.ndarray:
        """The voice alone as one in-memory array ``(channels, frames)`` (for steps that need it whole)."""
        return self(self.start, self.start + self.frames)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpooledVoice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spool_voice(
    path: str | Path,
    *,
    sr: int | None = None,
    info: MediaInfo | None = None,
    pad_before: int = 0,
    pad_after: int = 0,
    length: int | None = None,
) -> SpooledVoice:
    """Decode a voice input into a :class:`SpooledVoice` in one streaming pass.

    The full-quality samples go from ffmpeg's stdout straight to a temporary file, block by block; each block is
    also folded to mono (mean of the channels) and resampled to 16 kHz with a streaming soxr resampler for the
    analysis copy. Memory: one block plus the analysis copy (~230 MB for an hour), whatever the input's length.

    Parameters
    ----------
    path, sr, info, pad_before, pad_after, length
        As :func:`decode_voice`.

    Raises
    ------
    DecodeError
    """
    import soxr

    info = info or probe(path)
    a = _require_audio(info)
    rate = int(sr or a.sample_rate or 48000)
    channels = 1 if a.channels == 1 else 2
    if pad_before < 0 or pad_after < 0 or (length is not None and length < 0):
        raise ValueError(f"padding and length must be >= 0, got {pad_before}, {pad_after}, {length}")
    expected = int(max(a.duration_s, info.duration_s) * ANALYSIS_SR) + ANALYSIS_SR
    analysis = np.zeros(max(expected, 1), dtype=np.float32)
    filled = 0
    resampler = soxr.ResampleStream(rate, ANALYSIS_SR, 1, dtype="float32", quality="HQ")
    decoded = 0
    limit = None if length is None else max(0, length - pad_before)  # frames that fit in a video's timeline
    spool = tempfile.TemporaryFile(prefix="moodmix-voice-")
    ok = False

    def add_analysis(y: np.ndarray) -> None:
        nonlocal analysis, filled
        if filled + y.size > analysis.size:
            grown = np.zeros(max(filled + y.size, int(analysis.size * 1.25)), dtype=np.float32)
            grown[:filled] = analysis[:filled]
            analysis = grown
        analysis[filled:filled + y.size] = y
        filled += y.size

    try:
        with _PcmReader(_pcm_command(info, a, rate, channels), channels) as pcm:
            for x in pcm.blocks():
                k = x.shape[0]
                keep = k if limit is None else max(0, min(k, limit - decoded))
                if keep:
                    spool.write(x[:keep].tobytes())
                    mono = x[:keep, 0] if channels == 1 else x[:keep].mean(axis=1, dtype=np.float32)
                    add_analysis(resampler.resample_chunk(np.ascontiguousarray(mono)))
                decoded += k
        code, stderr = pcm.returncode, pcm.stderr
        _check_result(info, a, code, stderr, decoded, rate)
        add_analysis(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        spool.flush()
        frames = decoded if limit is None else min(decoded, limit)
        n_samples = length if length is not None else pad_before + frames + pad_after
        voice = SpooledVoice(spool, sr=rate, channels=channels, n_samples=n_samples, start=pad_before,
                             frames=frames, analysis=analysis[:filled][None, :], info=info)
        ok = True
        return voice
    finally:
        if not ok:
            spool.close()


def iter_audio_blocks(
    path: str | Path,
    *,
    sr: int,
    channels: int,
    block_s: float = 30.0,
    info: MediaInfo | None = None,
    check_truncation: bool = True,
) -> Iterator[np.ndarray]:
    """Decode the first audio stream block by block: float32 ``(channels, n)`` arrays of ``block_s`` seconds (the
    last one shorter), through the same ffmpeg command as :func:`decode_audio`, so memory stays at one block
    whatever the file's length (music analysis).

    Raises
    ------
    DecodeError
        As :func:`decode_audio`; a truncated or corrupt file raises after its last good block.
    """
    if sr <= 0 or channels not in (1, 2) or block_s <= 0:
        raise ValueError(f"iter_audio_blocks needs sr > 0, 1 or 2 channels and block_s > 0, got {sr}, {channels}, "
                         f"{block_s}")
    info = info or probe(path)
    a = _require_audio(info)
    block_n = max(1, int(round(block_s * sr)))
    buf = np.empty((channels, block_n), dtype=np.float32)
    have = 0
    decoded = 0
    with _PcmReader(_pcm_command(info, a, sr, channels), channels) as pcm:
        for block in pcm.blocks():
            k = block.shape[0]
            decoded += k
            i = 0
            while i < k:
                take = min(k - i, block_n - have)
                buf[:, have:have + take] = block[i:i + take].T
                have += take
                i += take
                if have == block_n:
                    yield buf.copy()
                    have = 0
    _check_result(info, a, pcm.returncode or 0, pcm.stderr, decoded, sr, check_truncation)
    if have:
        yield buf[:, :have].copy()
