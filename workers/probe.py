"""Check an upload by its content: is it media with an audio stream, how long is it, is it whole?

Used by the API before a job is queued, so a bad upload gets a 4xx at once instead of a failed job later. It
uses PyAV (FFmpeg's demuxers and decoders) and never imports numpy: the API process stays light. The
extension, the filename and the client's content type are ignored; only the bytes count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProbeResult", "UploadRejected", "probe_upload"]

#: A decode that yields less than this share of the duration the container announces is a truncated file.
_TRUNCATED_RATIO = 0.9


class UploadRejected(Exception):
    """The upload is not acceptable media; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found: container name, decoded audio duration, whether there is a real video stream."""

    container: str
    duration_s: float
    has_video: bool
    audio_codec: str
    sample_rate: int
    channels: int = 0


def _check(limits: Any, *, sample_rate: int, channels: int, duration_s: float) -> None:
    from core.errors import InputLimitError
    from mixer.limits import check_input

    try:
        check_input(sample_rate=sample_rate, channels=channels, duration_s=duration_s, limits=limits,
                    name="the upload", hint=" (or raise the server's MOODMIX_* limit)")
    except InputLimitError as exc:
        raise UploadRejected(422, str(exc)) from None


def probe_upload(path: Path, *, max_duration_s: float, limits: Any = None) -> ProbeResult:
    """Probe ``path`` and decode its audio once (up to the duration limit) to prove it is whole.

    ``limits`` (a :class:`mixer.limits.InputLimits`) are checked from the header before anything is decoded,
    and again against what the decode really yields (a header may lie about the length).

    Raises
    ------
    UploadRejected
        415 when it is not media or has no audio stream; 422 when it is truncated or corrupt, has no audio
        samples, is longer than ``max_duration_s``, or is outside ``limits`` (the message names the limit).
    """
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise UploadRejected(
            415,
            f"the upload is not a readable audio or video file ({exc.strerror or exc}); send a voice recording "
            "(wav, mp3, m4a, flac, ogg...) or a video (mp4, mov, mkv, webm)",
        ) from None
    try:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = next(
            (s for s in container.streams
             if s.type == "video" and not (s.disposition & av.stream.Disposition.attached_pic)),
            None,
        )
        if audio is None:
            found = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise UploadRejected(
                415, f"the upload has no audio stream (found: {found}); send a file with a voice track"
            )
        announced_s = float(container.duration) / 1e6 if container.duration else 0.0
        if audio.duration is not None and audio.time_base is not None:
            announced_s = max(announced_s, float(audio.duration * audio.time_base))
        sr = int(audio.codec_context.sample_rate or 0)
        channels = int(audio.codec_context.channels or 0)
        codec = audio.codec_context.name
        if limits is not None:  # the rate first: a 1 Hz WAV is "long" only because of its rate
            _check(limits, sample_rate=sr, channels=channels, duration_s=announced_s)
        if announced_s > max_duration_s:
            raise UploadRejected(422, _too_long(announced_s, max_duration_s))
        samples = 0
        decoded_s = 0.0
        try:
            for packet in container.demux(audio):
                if packet.is_corrupt:  # e.g. a WAV whose data chunk announces more bytes than the file has
                    raise UploadRejected(
                        422, f"the upload is truncated or corrupt: a damaged audio packet after {decoded_s:.1f} s; "
                        "upload the complete file",
                    )
                for frame in packet.decode():
                    if not isinstance(frame, av.AudioFrame):
                        continue
                    samples += frame.samples
                    rate = frame.sample_rate or sr or 1
                    decoded_s += frame.samples / rate
                if decoded_s > max_duration_s:
                    raise UploadRejected(422, _too_long(decoded_s, max_duration_s, at_least=True))
                if limits is not None and decoded_s > announced_s + 1.0:  # the header said less than it holds
                    _check(limits, sample_rate=sr, channels=channels, duration_s=decoded_s)
        except av.error.FFmpegError as exc:
            raise UploadRejected(
                422, f"the upload is corrupt or truncated: decoding its audio failed after {decoded_s:.1f} s "
                f"({exc.strerror or exc}); upload the complete file",
            ) from None
        if samples == 0:
            raise UploadRejected(422, "the upload's audio stream holds no samples; upload a file with sound")
        if announced_s > 0 and decoded_s < _TRUNCATED_RATIO * announced_s and announced_s - decoded_s > 0.5:
            raise UploadRejected(
                422, f"the upload is truncated: it announces {announced_s:.1f} s of audio but only "
                f"{decoded_s:.1f} s could be decoded; upload the complete file",
            )
        return ProbeResult(
            container=container.format.name, duration_s=decoded_s, has_video=video is not None,
            audio_codec=codec, sample_rate=sr, channels=channels,
        )
    finally:
        container.close()


def _too_long(duration_s: float, limit_s: float, *, at_least: bool = False) -> str:
    what = f"at least {duration_s:.0f}" if at_least else f"{duration_s:.0f}"
    return (
        f"the upload is {what} s long but the limit is {limit_s:.0f} s; trim it or raise "
        "MOODMIX_MAX_DURATION_S"
    )
