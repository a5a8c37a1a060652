"""Independent read-back of rendered files with the user-named media libraries.

moodmix renders with ffmpeg graphs (ffmpeg-python) and decodes with its own streaming reader; moviepy and pydub
decode whole files into memory and re-encode video, so they stay out of the hot path. They are the natural tool for
a second opinion, though: what a video editor (moviepy) or a quick audio script (pydub) sees when it opens
moodmix's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixer.ffmpeg import ffmpeg_exe
from moodmix import pipeline
from moodmix.settings import JobSettings
from tests.signals import write_audio, write_video

pytestmark = [pytest.mark.ffmpeg,
              pytest.mark.filterwarnings("ignore:Couldn't find ff:RuntimeWarning")]  # pydub looks on PATH


def test_moviepy_sees_the_video_with_its_new_soundtrack(tmp_path, emodb_speech, builtin_track):
    from moviepy import VideoFileClip

    audio, sr = emodb_speech
    secs = 4.0
    src = write_video(tmp_path / "clip.mp4", secs, audio[:, : int(secs * sr)], sr, fps=25)
    out = tmp_path / "clip.moodmix.mp4"
    pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, analyse_emotion=False))
    with VideoFileClip(str(src)) as a, VideoFileClip(str(out)) as b:
        assert b.audio is not None
        assert abs(b.duration - a.duration) <= 1 / 25
        assert tuple(b.size) == tuple(a.size) and b.fps == a.fps
        first_in, first_out = a.get_frame(1.0), b.get_frame(1.0)
        np.testing.assert_array_equal(first_in, first_out)  # copied stream: the very same pixels
        sound = b.audio.to_soundarray(fps=48000)
        assert sound.shape[1] == 2 and float(np.sqrt(np.mean(sound**2))) > 1e-3  # a real stereo soundtrack


@pytest.mark.parametrize(("ext", "decoder"), [("mp3", "mp3"), ("m4a", "aac"), ("ogg", "opus")])
def test_pydub_reads_the_compressed_outputs(tmp_path, emodb_speech, builtin_track, ext, decoder):
    from pydub import AudioSegment

    AudioSegment.converter = ffmpeg_exe()  # no system ffmpeg needed: the wheel's binary
    audio, sr = emodb_speech
    src = write_audio(tmp_path / "voice.wav", audio[:, : int(5 * sr)], sr)
    out = tmp_path / f"voice.moodmix.{ext}"
    rep = pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, analyse_emotion=False))
    seg = AudioSegment.from_file(out, codec=decoder)  # naming the decoder spares pydub its ffprobe call
    assert seg.channels == 2 and seg.frame_rate == rep["output"]["sample_rate"]
    assert abs(seg.duration_seconds - rep["output"]["duration_s"]) < 0.06  # encoder priming/padding only
    # integrated loudness is checked elsewhere; here: the level pydub reports is in the right place
    assert -26.0 < seg.dBFS < -12.0
