"""The bot end to end with a real Celery worker: /emo text (panel, reading, three tracks with reasons and credit,
excerpts), a voice message mixed by the worker's ``mix_file`` (progress edited per stage, panel, the mix, the
text with the buttons), "Another track", a corrupt file. Text messages, edits and buttons go through
telegram-test-api; the file download (getFile) and the photo/audio uploads through fake_bot_api.py."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from bot_helpers import Chat

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.model, pytest.mark.ffmpeg]


def _duration_s(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(stream))
        return n / stream.rate


def _sent(emulator, message: dict, kind: str) -> Path:
    media = message[kind]
    name = media[-1]["file_id"] if isinstance(media, list) else media["file_id"]
    return emulator.sent / name


def test_emo_text_answers_with_panel_reading_and_three_playable_tracks(emulator, bot, worker,
                                                                      bot_settings) -> None:
    chat = Chat(emulator, 201, "en")
    t0 = time.monotonic()
    chat.send("/emo I am so happy today, this is wonderful news and I love it!")
    got = chat.replies(until=lambda m: "audio" in m and m.get("caption", "").startswith("3."), timeout_s=90)
    wait_id = got[0]["message_id"]
    text = chat.current(wait_id)["text"]
    assert text.startswith("Mood: joy"), text
    assert "\n1. " in text and "\n2. " in text and "\n3. " in text
    assert text.count("why: ") == 3 and text.count("Music: ") == 3, text
    photos = [m for m in got if "photo" in m]
    assert len(photos) == 1 and _sent(emulator, photos[0], "photo").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    audios = [m for m in got if "audio" in m]
    assert [a["caption"][:2] for a in audios] == ["1.", "2.", "3."]
    for a in audios:
        assert 12.0 <= _duration_s(_sent(emulator, a, "audio")) <= 15.5
    print(f"/emo text answered (all files) in {time.monotonic() - t0:.1f} s (cold worker)")
    time.sleep(0.5)  # the folder goes right after the last excerpt is sent
    assert (bot_settings.jobs_dir / "bot-files").is_dir()
    assert not list((bot_settings.jobs_dir / "bot-files").glob("*/*"))


def test_emo_then_the_next_message_and_typed_russian(emulator, bot, worker) -> None:
    chat = Chat(emulator, 202, "ru")
    chat.send("/emo")
    assert chat.replies(1)[0]["text"] == "Пришлите текст одним сообщением."
    chat.send("This is terrible. I am furious and scared.")
    got = chat.replies(until=lambda m: m.get("caption", "").startswith("3."), timeout_s=60)
    assert chat.current(got[0]["message_id"])["text"].startswith("Настроение: ")
    chat.send("/emo Трусишка зайка серенький под елочкой плясал")
    got = chat.replies(1, timeout_s=60)
    for _ in range(200):
        if "голосовым" in chat.current(got[0]["message_id"])["text"]:
            break
        time.sleep(0.05)
    assert "голосовым" in chat.current(got[0]["message_id"])["text"]


@pytest.fixture(scope="module")
def voice_ogg(emulator, emodb_dir) -> tuple[str, int]:
    """A 6 s voice message as Telegram sends them: OGG/Opus, mono 48 kHz."""
    import soundfile as sf

    from mixer.ffmpeg import ffmpeg_exe
    from tests.signals import emodb_voice

    audio, sr = emodb_voice(emodb_dir, 6.0)
    wav = emulator.root / "voice.wav"
    sf.write(wav, audio.T, sr)
    ogg = emulator.files / "voice6.ogg"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                    "-b:a", "32k", str(ogg)], check=True)
    return ogg.name, ogg.stat().st_size


def _voice(name: str, size: int) -> dict:
    return {"file_id": name, "file_unique_id": name, "duration": 6, "mime_type": "audio/ogg", "file_size": size}


def test_voice_message_is_mixed_by_the_worker_and_another_track_remixes(emulator, bot, worker, voice_ogg,
                                                                     bot_settings) -> None:
    chat = Chat(emulator, 203, "en")
    chat.send(voice=_voice(*voice_ogg))
    got = chat.replies(until=lambda m: "reply_markup" in m and "Mixed with" in m.get("text", ""), timeout_s=180)
    progress = got[0]
    assert chat.current(progress["message_id"])["text"].startswith("✅ Done in")
    photo = next(m for m in got if "photo" in m)
    assert _sent(emulator, photo, "photo").read_bytes()[:4] == b"\x89PNG"
    audio = next(m for m in got if "audio" in m)
    mixed = _sent(emulator, audio, "audio")
    assert mixed.suffix == ".m4a" and 6.0 <= _duration_s(mixed) <= 10.5
    text = next(m for m in got if "Mixed with" in m.get("text", ""))
    assert text["text"].startswith("Heard: ") and "Music: " in text["text"]
    buttons = [b["callback_data"] for row in text["reply_markup"]["inline_keyboard"] for b in row]
    assert [b.rsplit(":", 1)[0] for b in buttons] == ["rm:n", "rm:s", "rm:u", "re:c", "re:l"]
    job_id = buttons[0].split(":")[2]
    job = bot_settings.jobs_dir / job_id
    assert (job / "input").exists() and not list(job.glob("result*")) and not (job / "panel.png").exists()
    log = bot.text()
    stages = [ln.rsplit(": ", 1)[1] for ln in log.splitlines() if f"job {job_id}: " in ln]
    assert stages[-1] == "sending" and "mixing" in stages, stages
    assert stages.index("mixing") > stages.index("listening") if "listening" in stages else True

    # Another track and Music softer: re-mixes of the same job (workers.remix: no re-analysis), new versions
    first_title = text["text"].split("Mixed with: ", 1)[1].splitlines()[0]
    chat.press(buttons[0], text["message_id"])
    got = chat.replies(until=lambda m: "Mixed with" in m.get("text", ""), timeout_s=120)
    second = next(m for m in got if "Mixed with" in m.get("text", ""))
    assert second["text"].split("Mixed with: ", 1)[1].splitlines()[0] != first_title
    assert _sent(emulator, next(m for m in got if "audio" in m), "audio").name.endswith(".m4a")
    chat.press(buttons[1], second["message_id"])
    got = chat.replies(until=lambda m: "Mixed with" in m.get("text", ""), timeout_s=120)
    third = next(m for m in got if "Mixed with" in m.get("text", ""))
    assert "Music level: -4 dB" in third["text"]
    assert third["text"].split("Mixed with: ", 1)[1].splitlines()[0] != first_title  # the track of version 2
    assert not list(job.glob("result*"))  # every version's file went once sent


def test_a_corrupt_voice_file_gets_the_pipelines_one_line_error(emulator, bot, worker) -> None:
    (emulator.files / "corrupt.ogg").write_bytes(np.random.default_rng(5).bytes(40_000))
    chat = Chat(emulator, 204, "en")
    chat.send(voice=_voice("corrupt.ogg", 40_000))
    progress = chat.replies(1)[0]
    for _ in range(200):
        text = chat.current(progress["message_id"])["text"]
        if text.startswith("I could not use that file"):
            break
        time.sleep(0.05)
    assert text.startswith("I could not use that file: ") and "\n" not in text, text


def test_video_note_comes_back_as_video_and_jobs_per_user_are_capped(emulator, bot, worker, voice_ogg,
                                                                     emodb_dir) -> None:
    import av
    import soundfile as sf

    from tests.signals import emodb_voice, make_mp4

    audio, sr = emodb_voice(emodb_dir, 4.0, offset=11)
    wav = emulator.root / "note.wav"
    sf.write(wav, audio.T, sr)
    clip = make_mp4(wav, emulator.files / "note4.mp4", 4.0)
    chat = Chat(emulator, 205, "en")
    chat.send(voice=_voice(*voice_ogg))
    chat.send(video_note={"file_id": clip.name, "file_unique_id": "n4", "length": 120, "duration": 4,
                          "file_size": clip.stat().st_size})
    got = chat.replies(2, timeout_s=30)
    assert [m["text"] for m in got[:2]] == ["⏳ Queued…", "⏳ Queued…"]
    chat.send(voice=_voice(*voice_ogg))  # a third while two are under way (the cap is 2)
    got = chat.replies(until=lambda m: str(m.get("text", "")).startswith("You already have"), timeout_s=30)
    assert any(str(m.get("text", "")).startswith("You already have 2 mixes under way") for m in got)
    answers = [m for m in got if "Mixed with" in str(m.get("text", ""))]
    while len(answers) < 2:  # both mixes answered: the voice and the video note
        more = chat.replies(until=lambda m: "Mixed with" in str(m.get("text", "")), timeout_s=240)
        got += more
        answers += [m for m in more if "Mixed with" in str(m.get("text", ""))]
    video = _sent(emulator, next(m for m in got if "video" in m), "video")
    assert video.suffix == ".mp4"
    with av.open(str(video)) as c:
        assert c.streams.video and c.streams.audio


def test_a_result_over_the_send_limit_becomes_a_download_link(emulator, bot_settings, worker, voice_ogg,
                                                             tmp_path) -> None:
    from bot_helpers import BotProc

    token = "987654321:AAsecond-test-bot-token"
    small = BotProc(tmp_path, bot_settings, emulator.api_url, token=token, MOODMIX_TELEGRAM_SEND_MAX_BYTES="1000",
                    MOODMIX_PUBLIC_URL="https://moodmix.example")
    try:
        chat = Chat(emulator, 206, "en", token=token)
        chat.send(voice=_voice(*voice_ogg))
        got = chat.replies(until=lambda m: "Mixed with" in str(m.get("text", "")), timeout_s=120)
        link = next(m["text"] for m in got if "over Telegram's 50 MB limit" in str(m.get("text", "")))
        assert "https://moodmix.example/jobs/" in link and "/result?token=" in link
        assert not any("audio" in m for m in got)
        job_id = link.split("/jobs/", 1)[1].split("/", 1)[0]
        assert list((bot_settings.jobs_dir / job_id).glob("result.*"))  # kept for the link, until the job expires
        assert token.split(":")[1] not in small.text()
    finally:
        small.stop()
