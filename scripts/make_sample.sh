#!/usr/bin/env bash
# Regenerate samples/voice.flac, the built-in demo voice: ~35 s of English speech synthesised with espeak-ng
# (its output audio is free to redistribute), with natural pauses between sentences (several >= 1.5 s so the
# ducked music visibly rises) and warm, happy content so the words carry emotion.
# Needs espeak-ng (apt-get install espeak-ng) and the project's .venv (ffmpeg from imageio-ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/.."
FFMPEG=$(.venv/bin/python -c "from mixer.ffmpeg import ffmpeg_exe; print(ffmpeg_exe())")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/voice.ssml" <<'SSML'
<speak>
Hello, and welcome back to the show. <break time="1600ms"/>
Today I have some wonderful news to share with you. <break time="900ms"/>
We did it! After two long years of work, our little community garden is finally open. <break time="1800ms"/>
The whole neighbourhood came to celebrate, and the children planted sunflowers along the fence. <break time="1000ms"/>
I was so happy, I could not stop smiling all afternoon. <break time="1700ms"/>
Thank you, all of you, for your kindness, your patience and your love. <break time="1500ms"/>

So come and visit us this weekend. Bring your friends, bring your family, and enjoy the sunshine with us!
</speak>
SSML
espeak-ng -m -v en-us+f3 -s 160 -p 55 -w "$tmp/voice.wav" -f "$tmp/voice.ssml"
# 1 s of room before the first word, mono 22.05 kHz FLAC (small: < 1 MB).
"$FFMPEG" -hide_banner -v error -y -i "$tmp/voice.wav" -af "adelay=1000,apad=pad_dur=1" -ac 1 -ar 22050 \
  -c:a flac -compression_level 8 samples/voice.flac
ls -l samples/voice.flac
