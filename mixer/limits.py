"""Input limits: the sample rates, channel counts and amount of work moodmix accepts, checked from a probe.

One rule for every front end: the CLI and the library check a file when its audio stream is first read
(:func:`mixer.decode.probe` → ``check_input``); the service checks an upload with tighter budgets (its
:class:`workers.config.Settings`) before the job is queued. Pure Python (no numpy), so the API process can use it.

Why these limits:

- A sample rate below 8 kHz is not speech (a WAV that declares 1 Hz turns 14 KB into an hour of audio and a
  1 Hz → 48 kHz resampler that needs gigabytes); above 192 kHz no recorder or codec that carries a voice goes.
- Any channel count up to :attr:`InputLimits.max_channels` is folded to the output's stereo (and the analysis
  mono); more is a multichannel master, not a voice track.
- Work is ``duration × rate × channels`` (samples ffmpeg must decode and resample), the cost of a decode that
  the duration alone does not show (an hour at 384 kHz × 8 channels is 64 hours of 48 kHz mono).
- Decoded size is what the job writes for the voice before anything else: ``duration × 48 kHz × 2 channels ×
  4 bytes`` (float32, the spool; the output rate is 44.1 or 48 kHz whatever the input's).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InputLimitError

__all__ = ["DEFAULT_LIMITS", "InputLimits", "check_input", "decoded_bytes", "work_samples"]

#: The output's rate and channels bound what a job holds per second of input (see mixer.render.output_rate).
_OUT_SR = 48000
_OUT_CHANNELS = 2
_FLOAT_BYTES = 4


@dataclass(frozen=True)
class InputLimits:
    """What an input may be. ``None`` turns a budget off."""

    min_sample_rate_hz: int = 8000
    max_sample_rate_hz: int = 192000
    max_channels: int = 32
    max_duration_s: float | None = None
    #: duration × rate × channels; default 12 hours of 48 kHz 8-channel audio (the CLI streams long inputs).
    max_work_samples: int | None = 12 * 3600 * 48000 * 8
    #: decoded float32 voice at the output rate, in bytes; default 12 hours of 48 kHz stereo.
    max_decoded_bytes: int | None = 12 * 3600 * _OUT_SR * _OUT_CHANNELS * _FLOAT_BYTES


DEFAULT_LIMITS = InputLimits()


def work_samples(duration_s: float, sample_rate: int, channels: int) -> int:
    """Samples a decode must produce: ``duration × rate × channels``."""
    return int(max(0.0, duration_s) * max(0, sample_rate) * max(1, channels))


def decoded_bytes(duration_s: float) -> int:
    """Bytes of the decoded voice a job keeps (float32 stereo at 48 kHz)."""
    return int(max(0.0, duration_s) * _OUT_SR * _OUT_CHANNELS * _FLOAT_BYTES)


def check_input(*, sample_rate: int, channels: int, duration_s: float, limits: InputLimits = DEFAULT_LIMITS,
                name: str = "the input", hint: str = "") -> None:
    """Refuse an audio stream outside ``limits``.

    Parameters
    ----------
    sample_rate : int
        The stream's declared rate in Hz.
    channels : int
        The stream's channel count.
    duration_s : float
        Its duration (announced or decoded), in seconds.
    limits : InputLimits
    name : str
        How the message names the input (a file name, "the upload").
    hint : str
        Appended to budget messages (e.g. which setting raises the limit).

    Raises
    ------
    InputLimitError
        The message names the limit and the value.
    """
    lim = limits
    if not lim.min_sample_rate_hz <= sample_rate <= lim.max_sample_rate_hz:
        raise InputLimitError(
            f"{name} declares a sample rate of {sample_rate} Hz; moodmix takes {lim.min_sample_rate_hz} to "
            f"{lim.max_sample_rate_hz} Hz; resample it (e.g. to 48000 Hz) first"
        )
    if channels < 1 or channels > lim.max_channels:
        raise InputLimitError(
            f"{name} has {channels} audio channels; moodmix folds up to {lim.max_channels} to stereo; "
            "export the voice as mono or stereo first"
        )
    if lim.max_duration_s is not None and duration_s > lim.max_duration_s:
        raise InputLimitError(
            f"{name} is {duration_s:.0f} s long but the limit is {lim.max_duration_s:.0f} s; trim it{hint}"
        )
    work = work_samples(duration_s, sample_rate, channels)
    if lim.max_work_samples is not None and work > lim.max_work_samples:
        raise InputLimitError(
            f"{name} is {duration_s:.0f} s × {sample_rate} Hz × {channels} channels = {work / 1e9:.2f} G samples "
            f"to decode, over the work limit of {lim.max_work_samples / 1e9:.2f} G samples; send it shorter, "
            f"at a lower rate or with fewer channels{hint}"
        )
    size = decoded_bytes(duration_s)
    if lim.max_decoded_bytes is not None and size > lim.max_decoded_bytes:
        raise InputLimitError(
            f"{name} decodes to {size / 1e9:.2f} GB ({duration_s:.0f} s of 48 kHz stereo float), over the "
            f"decoded-size limit of {lim.max_decoded_bytes / 1e9:.2f} GB; send it shorter{hint}"
        )
