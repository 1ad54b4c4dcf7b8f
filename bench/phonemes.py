"""`mouthpiece bench phonemes`: frame agreement of the phone front end with StyleTalk's 30 fps labels.

For each clip of the StyleTalk samples (real speech, no transcript), ``recognize_phones`` → StyleTalk
indices at 30 fps, compared with ``source_video/phoneme/<clip>_seq.json``: exact agreement, and ±1
frame agreement (a frame counts when its label equals the prediction at that frame or a neighbour).
Noise labels (NSN) count as SIL, and label frames past the end of the audio are dropped. The
real-time factor is the front end's CPU time over the audio duration (the machine is shared, so
wall time would measure the neighbours).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cpu import cpu_seconds
from core.audio import SAMPLE_RATE, load_audio
from core.phonetics import recognize_phones, styletalk_indices
from core.testing.phones import agreement
from core.testing.samples import STYLETALK_SAMPLES as SAMPLES


@dataclass(frozen=True)
class ClipScore:
    clip: str
    frames: int
    exact: float
    tolerant: float
    rtf: float


def score_clip(wav: Path, labels_path: Path, refine: bool = True) -> ClipScore:
    """Recognize one clip's phones and compare them with its labels."""
    audio = load_audio(wav)
    labels = np.array(json.loads(labels_path.read_text()), dtype=np.int64)
    labels = labels[: int(np.ceil(len(audio) / SAMPLE_RATE * 30.0))]
    t0 = cpu_seconds()
    predicted = styletalk_indices(recognize_phones(audio, refine), len(labels))
    cpu = cpu_seconds() - t0
    exact, tolerant = agreement(predicted, labels)
    return ClipScore(wav.stem, len(labels), exact, tolerant, cpu / (len(audio) / SAMPLE_RATE))


def run(samples: Path, refine: bool = True) -> list[ClipScore]:
    """Score every clip that has both a wav and labels."""
    wavs = sorted((samples / "source_video" / "wav").glob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"no sample clips under {samples / 'source_video' / 'wav'}")
    recognize_phones(np.zeros(SAMPLE_RATE, np.float32) + 0.01)  # load the decoders outside the timing
    return [
        score_clip(wav, samples / "source_video" / "phoneme" / f"{wav.stem}_seq.json", refine)
        for wav in wavs
        if (samples / "source_video" / "phoneme" / f"{wav.stem}_seq.json").is_file()
    ]


def format_table(rows: list[ClipScore]) -> str:
    """Per-clip rows and the mean over clips."""
    lines = [f"{'clip':<22}{'frames':>8}{'exact':>8}{'±1 frame':>10}{'RTF':>8}"]
    for r in rows:
        lines.append(f"{r.clip:<22}{r.frames:>8}{r.exact:>8.3f}{r.tolerant:>10.3f}{r.rtf:>8.3f}")
    mean = [float(np.mean([getattr(r, k) for r in rows])) for k in ("exact", "tolerant", "rtf")]
    frames = sum(r.frames for r in rows)
    lines.append(f"{'mean':<22}{frames:>8}{mean[0]:>8.3f}{mean[1]:>10.3f}{mean[2]:>8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the agreement table for the StyleTalk sample clips."""
    parser = argparse.ArgumentParser(prog="mouthpiece bench phonemes", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the StyleTalk samples folder")
    parser.add_argument(
        "--no-refine", action="store_true", help="skip the phone alignment pass of recognition (faster)"
    )
    args = parser.parse_args(argv)
    print(format_table(run(args.samples, refine=not args.no_refine)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
