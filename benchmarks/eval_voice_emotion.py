"""Speaker-independent evaluation of the voice emotion models on EmoDB, clean and degraded, and on synthetic voices.

1. The comparison table of ``models/training/train_voice_encoder.py`` (nested leave-one-speaker-out on EmoDB's
   7 classes, ``C`` chosen inside each fold; embeddings cached under ``benchmarks/out/cache``): for each feature set —
   the previous 82 statistics, Whisper tiny.en encoder, Whisper base encoder, tiny.en + statistics — UAR and arousal
   accuracy clean, and UAR under 10 dB SNR babble + Opus 24 kb/s and 10 dB SNR music + Opus 24 kb/s (conditions never
   trained on; music clips disjoint from the training augmentation's).
2. Out-of-domain voices: espeak-ng speaking a happy, a sad and an angry script in several voices, judged by the
   shipped default: top label, confidence and the out-of-domain score (1 ≈ a typical unseen EmoDB speaker).

    nice .venv/bin/python benchmarks/eval_voice_emotion.py [--sets stats,tiny,base,tiny+stats]

Writes ``benchmarks/out/eval_voice_emotion.json`` (the table) and prints both parts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.training import train_voice_encoder

VOICES = ("en-us", "en-gb+f3", "en+m3", "en-us+f2", "de")
SCRIPTS = {
    "happy": "Hello everyone! I am so happy you are here today, this is going to be a wonderful show.",
    "sad": "I miss my old friend so much. Everything feels grey and empty since he left.",
    "angry": "I am furious! They lied to me again and I will not accept it any more!",
}


def synthetic_voices() -> list[dict[str, object]]:
    import soundfile as sf

    from models.voice_emotion import EncoderVoiceModel, encode_pieces, load_voice_model
    from models.voice_input import as_mono16k

    if shutil.which("espeak-ng") is None:
        return []
    model = load_voice_model("default")
    assert isinstance(model, EncoderVoiceModel)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in VOICES:
            for name, text in SCRIPTS.items():
                wav = Path(tmp) / "s.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
                audio, sr = sf.read(wav, dtype="float32")
                x = as_mono16k(audio, sr)
                est = model.predict(x, 16000)
                pooled = encode_pieces(model.encoder, [x])
                score = float(model.ood_scores(model.features(pooled, [x]))[0])
                rows.append({"voice": voice, "script": name, "top": est.top(),
                             "confidence": round(est.confidence, 3), "ood_score": round(score, 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="stats,tiny,base,tiny+stats")
    ap.add_argument("--skip-table", action="store_true", help="only the synthetic voices")
    args = ap.parse_args(argv)
    if not args.skip_table:
        train_voice_encoder.main(["--no-ship", "--sets", args.sets])
    rows = synthetic_voices()
    for r in rows:
        print(f"{r['voice']:10s} {r['script']:6s} → {r['top']:8s} confidence {r['confidence']:.2f} "
              f"(out-of-domain score {r['ood_score']:.1f})")
    if rows:
        ok = [r["confidence"] <= 0.3 or r["top"] != "anger" for r in rows]  # type: ignore[operator]
        print(json.dumps({"synthetic_voices": len(rows), "never_confident_anger": bool(all(ok)),
                          "median_confidence": float(np.median([r["confidence"] for r in rows]))}))
        out = train_voice_encoder.OUT_TABLE
        table = json.loads(out.read_text()) if out.is_file() else {}
        table["synthetic_voices"] = rows
        out.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
