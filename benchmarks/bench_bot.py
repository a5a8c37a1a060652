"""The Telegram bot's goals, measured end to end: the real ``moodmix bot`` process, one real Celery worker
(``--concurrency 1``, models warmed by a first request), telegram-test-api (npm) with tests/workers/bot/fake_bot_api.py
for the file download and the uploads, a chat client playing the user.

- ``/emo TEXT``: seconds from sending the command to the reading (the text answer), and to the last of the three
  excerpts; goal: the text answer in <= 2 s once warm.
- a voice message of ``--voice-s`` seconds (OGG/Opus, real emodb speech): seconds from sending it to the result
  text (after the panel and the mix were sent); goal: <= 15 s for 30 s on 2 cores with one worker.
- the bot process's peak memory (VmHWM; the bot loads no model: /emo runs in the worker); goal: <= 300 MB.
  ``--text-model-rss`` measures instead what a process that ran /emo itself would hold (the text model, the
  selection and the dashboard): the reason it runs in the worker.

    .venv/bin/python benchmarks/bench_bot.py                   # 5 texts, 3 voice messages of 30 s
    .venv/bin/python benchmarks/bench_bot.py --texts 3 --voices 1

Needs Redis (scripts/services.sh), node + npm, ../shared/data/emodb. Writes benchmarks/out/bench_bot.json;
medians are the figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "workers" / "bot"), str(REPO / "tests" / "workers")]

from bot_helpers import TEST_REDIS_URL, TOKEN, BotProc, Chat, Emulator
from svc_helpers import WorkerProc, make_settings, redis_answers, settings_env, shared_home

TEXTS = [
    "I am so happy today, this is wonderful news!",
    "This is terrible. I am furious and scared.",
    "I miss you so much, the house feels empty without you.",
    "Wow, I did not expect that at all!",
    "A calm evening by the lake, everything is quiet.",
]


def _rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _voice(emu: Emulator, seconds: float, name: str) -> tuple[str, int]:
    import soundfile as sf
    from tests.signals import emodb_voice

    from mixer.ffmpeg import ffmpeg_exe

    emodb = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"
    audio, sr = emodb_voice(emodb, seconds, offset=3)
    wav = emu.root / f"{name}.wav"
    sf.write(wav, audio.T, sr)
    ogg = emu.files / f"{name}.ogg"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                    "-b:a", "32k", str(ogg)], check=True)
    return ogg.name, ogg.stat().st_size


def _emo(chat: Chat, text: str) -> tuple[float, float]:
    t0 = time.monotonic()
    chat.send(f"/emo {text}")
    first = chat.replies(1, timeout_s=120)[0]
    while not chat.current(first["message_id"])["text"].startswith("Mood:"):
        time.sleep(0.01)
    t_text = time.monotonic() - t0
    chat.replies(until=lambda m: str(m.get("caption", "")).startswith("3."), timeout_s=120)
    return t_text, time.monotonic() - t0


def _mix(chat: Chat, name: str, size: int, seconds: float) -> tuple[float, float]:
    """Seconds from sending the voice message to the mix (audio) arriving, and to the whole answer (the text
    with the buttons, after the panel)."""
    t0 = time.monotonic()
    chat.send(voice={"file_id": name, "file_unique_id": name, "duration": int(seconds), "mime_type": "audio/ogg",
                     "file_size": size})
    progress = chat.replies(1, timeout_s=60)[0]
    t_audio = None
    while time.monotonic() - t0 < 600:
        for m in chat._post("/getUpdates", {"token": TOKEN, "chatId": chat.user_id}).get("result") or []:
            msg = m["message"]
            if "audio" in msg and t_audio is None:
                t_audio = time.monotonic() - t0
            if "Mixed with" in str(msg.get("text", "")):
                return t_audio or float("nan"), time.monotonic() - t0
        now = chat.current(progress["message_id"]).get("text", "")
        if now.startswith(("❌", "I could not")):
            raise RuntimeError(f"the mix failed: {now}")
        time.sleep(0.02)
    raise TimeoutError("no answer in 600 s")


_IN_PROCESS = """
import resource
from models.emotion_pass import analyse_text
from library.select import choose_tracks
from models.dashboard import plot_dashboard
est = analyse_text(["I am so happy today, this is wonderful news!"])[0]
choose_tracks(est, n=3, source="text")
import tempfile, os; fd, png = tempfile.mkstemp(suffix=".png"); os.close(fd); plot_dashboard(est, png); os.unlink(png)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def text_model_rss() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), MOODMIX_HOME=str(shared_home()))
    out = subprocess.run([sys.executable, "-c", _IN_PROCESS], cwd=REPO, env=env, check=True, capture_output=True,
                         text=True)
    peak = float(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"in_process_emo_peak_rss_mb": round(peak, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=5)
    ap.add_argument("--voices", type=int, default=3)
    ap.add_argument("--voice-s", type=float, default=30.0)
    ap.add_argument("--text-model-rss", action="store_true", help="only: peak memory of /emo run in-process")
    a = ap.parse_args()
    if a.text_model_rss:
        text_model_rss()
        return
    if not redis_answers(TEST_REDIS_URL):
        sys.exit(f"no Redis at {TEST_REDIS_URL}; run scripts/services.sh")
    root = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    settings = make_settings(root, TEST_REDIS_URL, warm_models=True, max_upload_bytes=30 * 1024 * 1024)
    env = dict(settings_env(settings), MOODMIX_HOME=str(shared_home()))
    warm_catalog = ("from library.select import choose_tracks; from models.types import neutral_estimate; "
                    "choose_tracks(neutral_estimate(), n=1)")
    subprocess.run([sys.executable, "-c", warm_catalog], cwd=REPO, env=env, check=True)
    emu = Emulator(root / "tg")
    worker = WorkerProc(settings, root / "worker.log", concurrency=1, name="bench-bot")
    bot = None
    try:
        worker.wait_ready(300)
        bot = BotProc(root, settings, emu.api_url, MOODMIX_TELEGRAM_REQUESTS_PER_MIN="1000")
        rss_idle = _rss_mb(bot.proc.pid)
        chat = Chat(emu, 900, "en")
        warm_text = _emo(chat, "warming up: a quiet sentence")  # loads the text model in the worker
        emo = [_emo(chat, TEXTS[i % len(TEXTS)]) for i in range(a.texts)]
        name6, size6 = _voice(emu, 6.0, "warm6")
        warm_mix = _mix(chat, name6, size6, 6.0)[1]  # loads the voice, ASR and language models in the worker
        name, size = _voice(emu, a.voice_s, f"voice{int(a.voice_s)}")
        mixes = [_mix(chat, name, size, a.voice_s) for _ in range(a.voices)]
        peak = _rss_peak_mb(bot.proc.pid)
        out = {
            "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0],
            "emo_text_s": {"warmup": round(warm_text[0], 3), "runs": [round(t, 3) for t, _ in emo],
                           "median": round(statistics.median(t for t, _ in emo), 3)},
            "emo_all_files_s": {"warmup": round(warm_text[1], 3), "runs": [round(t, 3) for _, t in emo],
                                "median": round(statistics.median(t for _, t in emo), 3)},
            "voice_mix_s": {"seconds_of_voice": a.voice_s, "warmup_6s": round(warm_mix, 3),
                            "mix_sent": [round(t, 3) for t, _ in mixes],
                            "mix_sent_median": round(statistics.median(t for t, _ in mixes), 3),
                            "whole_answer": [round(t, 3) for _, t in mixes],
                            "whole_answer_median": round(statistics.median(t for _, t in mixes), 3)},
            "bot_rss_mb": {"after_start": round(rss_idle, 1), "peak": round(peak, 1)},
            "goals": {"emo_text_s": 2.0, "voice_mix_30s_s": 15.0, "bot_rss_mb": 300},
        }
        print(json.dumps(out, indent=2))
        (REPO / "benchmarks" / "out").mkdir(exist_ok=True)
        (REPO / "benchmarks" / "out" / "bench_bot.json").write_text(json.dumps(out, indent=2) + "\n")
    finally:
        if bot is not None:
            bot.stop()
        worker.stop()
        emu.stop()


if __name__ == "__main__":
    main()
