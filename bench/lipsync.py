"""`mouthpiece bench lipsync`: lip-sync accuracy of an engine's ARKit track on the built-in head.

The track is applied to the head and the lip gap measured between the ``lip_upper_mid`` and
``lip_lower_mid`` landmarks, along the direction they part when the jaw opens. "Closed" means the gap
is within 15% of the way from rest to jawOpen=1. Against 30 fps phone labels:

- bilabial closure: share of p/b/m runs during which the lips close (run widened by ±40 ms);
- false closure: share of open-vowel frames (AA AE AO AW AY EH; not schwa-heavy AH) with the lips closed;
- rounding: share of OW/UW/W/OY frames with mouthFunnel + mouthPucker ≥ 0.2;
- rest in silence: share of SIL frames with the lips closed or at rest;
- real-time factor: wall time of the whole `mouthpiece animate` command / audio duration (and its
  CPU time / audio duration, which other load on the machine does not inflate).

Ground truth: the StyleTalk sample clips (real speech, audio only) and sentences synthesized with
espeak-ng (animated with their transcript), held out from the sentences the engine was tuned on. The
StyleTalk labels run STYLETALK_LAG_S (40 ms) behind their sound, so each is scored against the track
that much earlier (see ``core.testing.lips.label_lag``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.cpu import cpu_seconds
from core.phonetics.segments import STYLETALK_LAG_S
from core.testing.lips import (
    LABEL_FPS,
    OPEN_AND_MID_VOWELS,
    LipGauge,
    Scores,
    score,
)
from core.testing.samples import REPO
from core.testing.samples import STYLETALK_SAMPLES as SAMPLES
from core.testing.voices import Clip
from core.track import Track

if TYPE_CHECKING:
    from core.engines.base import Engine, EngineOptions

DEV_SENTENCES: tuple[str, ...] = (
    "Bob bought a big blue bump map for the boat.",
    "My mom made maple muffins on Monday morning.",
    "Put the paper back on the pile by the pump.",
    "We wore woolen coats when we rowed over the moat.",
    "Five very vivid vans veered off the road.",
    "Peter Piper picked a peck of pickled peppers.",
)
"""Sentences the engine was tuned on (``--set dev``)."""

HELD_OUT_SENTENCES: tuple[str, ...] = (
    "The baby brought a bowl of soup to the window.",
    "Please move the old boat away from the pier before noon.",
    "Bring me some warm bread and a bottle of water.",
    "A wise owl sat above the brown barn in the moonlight.",
    "Maybe the plumber will open the blue box tomorrow.",
    "Our team played a good game but we lost by one point.",
    "Whoever wins the boxing match may go home proud.",
)
"""Fresh sentences the engine was not tuned on (the default)."""


def clip_labels(path: Path, seconds: float) -> list[str]:
    """A clip's 30 fps labels as symbols; noise is silence; frames past the audio are dropped."""
    index = json.loads((SAMPLES / "phindex.json").read_text())
    names = {v: k for k, v in index.items()}
    labels = ["SIL" if names[i] == "NSN" else names[i] for i in json.loads(path.read_text())]
    return labels[: round(seconds * LABEL_FPS)]


def animate(wav: Path, out: Path, engine: str, transcript: str | None = None) -> tuple[float, float]:
    """Run the whole `mouthpiece animate` command; return its wall and CPU (user + system) time."""
    cmd = [sys.executable, "-m", "cli.main", "animate", str(wav), "-o", str(out), "--engine", engine]
    cmd += ["--seed", "0", "--quiet"]
    if transcript:
        cmd += ["--transcript", transcript]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"mouthpiece animate failed on {wav.name}: {proc.stderr.strip()[-400:]}")
    return wall, cpu


FIGURES = (
    ("bilabial", "bilabial"),
    ("false_closure", "false cl."),
    ("rounding", "rounding"),
    ("rest", "rest/SIL"),
    ("rtf", "RTF"),
    ("cpu_rtf", "CPU RTF"),
)


def _print_table(title: str, rows: list[tuple[str, Scores]], targets: dict[str, str]) -> None:
    print(f"\n{title}")
    header = f"{'clip':<24}{'sec':>7}" + "".join(f"{label:>11}" for _, label in FIGURES)
    print(header)
    print("-" * len(header))
    total: Scores | None = None
    for name, s in rows:
        print(f"{name:<24}{s.seconds:>7.1f}" + "".join(f"{s.figure(k):>11.3f}" for k, _ in FIGURES))
        total = s if total is None else total + s
    if total is not None:
        print("-" * len(header))
        print(f"{'all (pooled)':<24}{total.seconds:>7.1f}" + "".join(f"{total.figure(k):>11.3f}" for k, _ in FIGURES))
        means = [np.nanmean([s.figure(k) for _, s in rows]) for k, _ in FIGURES]
        print(f"{'mean of clips':<24}{'':>7}" + "".join(f"{m:>11.3f}" for m in means))
    print(f"{'target':<24}{'':>7}" + "".join(f"{targets.get(k, ''):>11}" for k, _ in FIGURES))


def run_real(gauge: LipGauge, engine: str, workdir: Path, clips: Sequence[str] | None) -> list[tuple[str, Scores]]:
    """The StyleTalk clips through the whole `mouthpiece animate` command (its RTF includes start-up)."""
    from core.audio import load_audio

    rows = []
    for wav in _real_wavs(clips):
        seconds = load_audio(wav).size / 16000
        out = workdir / f"{wav.stem}.npz"
        wall, cpu = animate(wav, out, engine)
        labels = clip_labels(SAMPLES / "source_video" / "phoneme" / f"{wav.stem}_seq.json", seconds)
        rows.append((wav.stem, score(labels, Track.load(out), gauge, wall, seconds, cpu, label_lag=STYLETALK_LAG_S)))
    return rows


def run_real_in_process(
    gauge: LipGauge, engine_name: str, clips: Sequence[str] | None, labelled: bool = False
) -> list[tuple[str, Scores]]:
    """The StyleTalk clips scored as :func:`run_voices` scores the voices set: the engine run in this
    process (no start-up in the RTF), AH and ER counted as open vowels. ``labelled`` gives the engine
    each clip's own labelled phones (as ``--phonemes`` does) instead of letting it find them."""
    from core.audio import load_audio
    from core.engines import EngineOptions, get_engine

    engine = get_engine(engine_name)
    rows: list[tuple[str, Scores]] = []
    for wav in _real_wavs(clips):
        audio = load_audio(wav)
        seconds = audio.size / 16000
        if not rows:  # load the decoders before timing anything
            engine.run(audio[: 16000 * 2], EngineOptions())
        label_file = SAMPLES / "source_video" / "phoneme" / f"{wav.stem}_seq.json"
        given = {"phonemes": json.loads(label_file.read_text())[: round(seconds * LABEL_FPS)]} if labelled else {}
        track, wall, cpu = _timed_run(engine, audio, EngineOptions(seed=0, extra=given))
        labels = clip_labels(label_file, seconds)
        rows.append((wav.stem, score(labels, track, gauge, wall, seconds, cpu, OPEN_AND_MID_VOWELS, STYLETALK_LAG_S)))
    return rows


def _timed_run(engine: Engine, audio: np.ndarray, options: EngineOptions) -> tuple[Track, float, float]:
    """The engine's track, and the wall and CPU seconds it took."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    track = engine.run(audio, options)
    return track, time.perf_counter() - t0, cpu_seconds() - c0


def _real_wavs(clips: Sequence[str] | None) -> list[Path]:
    return [w for w in sorted((SAMPLES / "source_video" / "wav").glob("*.wav")) if not clips or w.stem in clips]


def run_synth(gauge: LipGauge, engine: str, workdir: Path, sentences: Sequence[str]) -> list[tuple[str, Scores]]:
    from core.audio import write_wav
    from core.phonetics.segments import phones_to_frames
    from core.testing.espeak import synthesize

    rows = []
    for i, text in enumerate(sentences):
        audio, phones = synthesize(text)
        seconds = audio.size / 16000
        wav = workdir / f"sentence{i}.wav"
        write_wav(wav, audio)
        out = workdir / f"sentence{i}.npz"
        wall, cpu = animate(wav, out, engine, transcript=text)
        labels = phones_to_frames(list(phones), LABEL_FPS, round(seconds * LABEL_FPS))
        rows.append((text[:22], score(labels, Track.load(out), gauge, wall, seconds, cpu)))
    return rows


VOICES_DIR = Path.home() / ".cache" / "mouthpiece" / "voices-set"
WRONG_TRANSCRIPT = "does not match the audio"
"""The front end's warning when it rejects a transcript."""


@dataclass
class VoicesRow:
    """One clip of the voices set, animated with and without its transcript."""

    clip: Clip
    with_text: Scores
    audio_only: Scores
    accepted: bool  # its own transcript was used
    wrong_rejected: bool  # another sentence's transcript was refused
    reason: str  # the refusal's message


def run_voices(
    gauge: LipGauge, engine_name: str, folder: Path, every: int, conditions: Sequence[str], half: str | None = None
) -> list[VoicesRow]:
    """Animate every ``every``-th clip of the voices set in this process (the RTF leaves out the
    command's start-up), with its transcript and without; and try another sentence's transcript.
    ``half`` "dev" keeps the clips of even-numbered sentences, "held-out" those of odd ones."""
    from core.audio import load_audio
    from core.engines import EngineOptions, get_engine
    from core.phonetics import phones_for, phones_to_frames
    from core.testing.voices import SENTENCES, generate

    engine = get_engine(engine_name)
    clips = [c for c in generate(folder) if not conditions or c.condition in conditions]
    if half is not None:
        clips = [c for c in clips if c.sentence % 2 == (half == "held-out")]
    clips = clips[::every]
    rows: list[VoicesRow] = []
    if clips:  # load the decoders before timing anything
        engine.run(load_audio(folder / clips[0].wav), EngineOptions(transcript=clips[0].text))
    for k, clip in enumerate(clips):
        audio = load_audio(folder / clip.wav)
        seconds = audio.size / 16000
        labels = phones_to_frames(list(clip.phones), LABEL_FPS, round(seconds * LABEL_FPS))
        scored: list[Scores] = []
        accepted = False
        for transcript in (clip.text, None):
            track, wall, cpu = _timed_run(engine, audio, EngineOptions(seed=0, transcript=transcript))
            scored.append(score(labels, track, gauge, wall, seconds, cpu, OPEN_AND_MID_VOWELS))
            if transcript:
                accepted = bool(track.meta.get("transcript_used"))
        wrong = SENTENCES[(clip.sentence + len(SENTENCES) // 2) % len(SENTENCES)]
        _, warnings = phones_for(audio, wrong)
        refusal = next((w for w in warnings if WRONG_TRANSCRIPT in w), "")
        rows.append(VoicesRow(clip, scored[0], scored[1], accepted, bool(refusal), refusal))
        print(f"\r{k + 1}/{len(clips)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


VOICES_FIGURES = (
    ("bilabial", "bilabial"),
    ("false_closure", "false cl.*"),
    ("rounding", "rounding"),
    ("rest", "rest/SIL"),
    ("rtf", "RTF"),
    ("cpu_rtf", "CPU RTF"),
)


def _pooled(scores: Sequence[Scores]) -> Scores:
    total = scores[0]
    for s in scores[1:]:
        total = total + s
    return total


def _figures(scores: Scores) -> str:
    return "".join(f"{scores.figure(k):>11.3f}" for k, _ in VOICES_FIGURES)


def print_voices(rows: Sequence[VoicesRow], real: Scores | None, labelled: Scores | None = None) -> None:
    """Per-condition tables (with transcript, audio only), the transcript decision, and the real
    StyleTalk clips' pooled figures beside them (``labelled``: animated from their labelled phones)."""
    from core.testing.voices import CONDITIONS

    groups = [(c, [r for r in rows if r.clip.condition == c]) for c in CONDITIONS]
    groups = [(c, g) for c, g in groups if g] + [("all (pooled)", list(rows))]
    header = f"{'condition':<16}{'clips':>6}" + "".join(f"{label:>11}" for _, label in VOICES_FIGURES)
    for title, pick in (("with the exact transcript", "with_text"), ("audio only", "audio_only")):
        print(f"\nvoices set, {title}")
        print(header)
        print("-" * len(header))
        for name, group in groups:
            s = _pooled([getattr(r, pick) for r in group])
            print(f"{name:<16}{len(group):>6}" + _figures(s))
        if real is not None and pick == "audio_only":
            print(f"{'StyleTalk clips':<16}{'':>6}" + _figures(real))
        if labelled is not None and pick == "audio_only":
            print(f"{'  their labels**':<16}{'':>6}" + _figures(labelled))
        targets = {"bilabial": ">=0.98" if pick == "with_text" else ">=0.88", "rest": ">=0.90", "rtf": "<=0.17"}
        if pick == "audio_only":
            targets["false_closure"] = "<=0.05"
        print(f"{'target':<16}{'':>6}" + "".join(f"{targets.get(k, ''):>11}" for k, _ in VOICES_FIGURES))
    print("* false closure counts AH and ER as open vowels too; RTF is the engine's alone (no start-up)")
    if labelled is not None:
        print("** the StyleTalk clips animated from their own labelled phones (--phonemes), which the mouth follows")
    print("\nvoices set, transcript decision (wrong = another sentence of the set)")
    print(f"{'condition':<16}{'clips':>6}{'right kept':>12}{'wrong refused':>15}")
    for name, group in groups:
        kept = np.mean([r.accepted for r in group])
        refused = np.mean([r.wrong_rejected for r in group])
        print(f"{name:<16}{len(group):>6}{kept:>12.3f}{refused:>15.3f}")
    print(f"{'target':<16}{'':>6}{'>=0.99':>12}{'>=0.95':>15}")
    missed = [r for r in rows if not r.accepted]
    for r in missed[:10]:
        print(f"  right transcript refused: {r.clip.name}: {r.clip.text}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench lipsync", description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="builtin", help="engine to measure (an ARKit engine)")
    parser.add_argument(
        "--set",
        choices=("held-out", "dev", "voices"),
        default="held-out",
        help="synthesized sentences: espeak held-out or dev sentences, or the voices set (8 voices, 7 conditions)",
    )
    parser.add_argument("--voices-dir", type=Path, default=VOICES_DIR, help="where the voices set is (made if absent)")
    parser.add_argument("--every", type=int, default=1, help="voices set: only every N-th clip (a quicker subset)")
    parser.add_argument("--conditions", nargs="*", default=[], help="voices set: only these conditions")
    parser.add_argument(
        "--half",
        choices=("dev", "held-out"),
        help="voices set: only the clips of even-numbered sentences (dev, to tune on) or odd ones (held-out)",
    )
    parser.add_argument("--clips", nargs="*", help="only these real clips (by name)")
    parser.add_argument("--skip-real", action="store_true", help="only the synthesized sentences")
    parser.add_argument("--skip-synth", action="store_true", help="only the real clips")
    args = parser.parse_args(argv)

    from core.rigs import load_rig

    gauge = LipGauge(load_rig("arkit"))
    with tempfile.TemporaryDirectory(prefix="mouthpiece-lipsync-") as tmp:
        work = Path(tmp)
        if args.set == "voices":
            real = labelled = None
            if not args.skip_real:
                real = _pooled([s for _, s in run_real_in_process(gauge, args.engine, args.clips)])
                labelled = _pooled([s for _, s in run_real_in_process(gauge, args.engine, args.clips, labelled=True)])
            voices = run_voices(gauge, args.engine, args.voices_dir, args.every, args.conditions, args.half)
            print_voices(voices, real, labelled)
            return 0
        if not args.skip_real:
            rows = run_real(gauge, args.engine, work, args.clips)
            _print_table(
                f"Real speech ({SAMPLES.name}), audio only, engine {args.engine}",
                rows,
                {"bilabial": ">=0.80", "false_closure": "<=0.08", "rounding": ">=0.65", "rest": ">=0.80",
                 "rtf": "<=0.17"},
            )  # fmt: skip
        if not args.skip_synth:
            sentences = HELD_OUT_SENTENCES if args.set == "held-out" else DEV_SENTENCES
            rows = run_synth(gauge, args.engine, work, sentences)
            _print_table(
                f"espeak-ng sentences ({args.set}), with transcript, engine {args.engine}",
                rows,
                {"bilabial": ">=0.90", "false_closure": "<=0.10", "rounding": ">=0.50"},
            )
    return 0
