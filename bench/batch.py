"""`mouthpiece bench batch`: lines per minute of `mouthpiece batch` on 1 and N local workers and on Ray.

The lines are synthesized speech (espeak-ng) with their transcripts; every run starts from an empty output
folder. "whole run" includes starting the workers and loading the engines, as a user's first run does;
"warm" counts the lines after each worker's first, which is the rate of a long batch.
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SENTENCES: tuple[str, ...] = (
    "Get down, they are coming over the ridge.",
    "I told you we should have taken the other road.",
    "Hold the door, I am right behind you.",
    "Nobody leaves this room until I know the truth.",
    "The bridge is out, we need another way across.",
    "You were supposed to be watching the gate.",
)


def main(argv: list[str] | None = None) -> int:
    from cli.batch.local import cores

    parser = argparse.ArgumentParser(prog="mouthpiece bench batch", description=__doc__)
    parser.add_argument("--lines", type=int, default=24, help="dialogue lines in the manifest (default 24)")
    parser.add_argument("--workers", type=int, default=cores(), help="N: workers of the parallel runs (default: cores)")
    parser.add_argument("--engine", default="builtin", help="engine (default builtin)")
    parser.add_argument("--model-dir", type=Path, help="the engine's weights")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mouthpiece-bench-batch-") as tmp:
        folder = Path(tmp)
        manifest, audio_s = _manifest(folder, args.lines)
        print(f"{args.lines} lines, {audio_s:.1f} s of speech, engine {args.engine}, {cores()} cores")
        extra = ["--engine", args.engine, *(["--model-dir", str(args.model_dir)] if args.model_dir else [])]
        rates: dict[str, tuple[float, float]] = {}
        for workers in dict.fromkeys((1, args.workers)):
            rates[f"{workers} worker{'s' * (workers > 1)}"] = _run(manifest, folder / f"out{workers}", extra, workers)
        if not args.no_ray:
            import ray

            start = time.perf_counter()
            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            print(f"Ray started in {time.perf_counter() - start:.1f} s (not counted below)")
            try:
                rates[f"Ray, {args.workers} actors"] = _run(
                    manifest, folder / "out_ray", [*extra, "--ray"], args.workers
                )
            finally:
                ray.shutdown()
    base_whole, base_warm = rates["1 worker"]
    print("lines/min over the whole run (workers starting, engines loading), and once every worker is warm")
    print(f"{'run':<18}{'whole run':>10}{'ratio':>8}{'warm':>10}{'ratio':>8}")
    for name, (whole, warm) in rates.items():
        print(f"{name:<18}{whole:>10.1f}{whole / base_whole:>7.2f}×{warm:>10.1f}{warm / base_warm:>7.2f}×")
    return 0


def _manifest(folder: Path, count: int) -> tuple[Path, float]:
    """``count`` synthesized lines as WAVs and a CSV manifest naming them; (manifest, seconds of audio)."""
    from core.audio import SAMPLE_RATE, write_wav
    from core.testing.espeak import synthesize

    manifest = folder / "lines.csv"
    emotions = ("neutral", "angry", "fear", "happy")
    total = 0.0
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "audio", "transcript", "emotion"])
        for k in range(count):
            text = SENTENCES[k % len(SENTENCES)]
            audio, _ = synthesize(text, rate=150 + 10 * (k % 4))
            write_wav(folder / f"line{k:03d}.wav", audio)
            total += len(audio) / SAMPLE_RATE
            writer.writerow([f"line{k:03d}", f"line{k:03d}.wav", text, emotions[k % len(emotions)]])
    return manifest, total


@dataclass
class _Times:
    """When each line finished, from the batch's per-line callback."""

    start: float = field(default_factory=time.perf_counter)
    finished: list[float] = field(default_factory=list)

    @contextmanager
    def __call__(self, total: int) -> Iterator[Callable[[str], None]]:
        yield lambda status: self.finished.append(time.perf_counter())


def _run(manifest: Path, outdir: Path, extra: list[str], workers: int) -> tuple[float, float]:
    """(lines per minute of the whole run, lines per minute once every worker has its engine loaded)."""
    from cli.commands.batch import run_batch
    from cli.main import build_parser

    args = build_parser("batch").parse_args(
        ["batch", str(manifest), "-o", str(outdir), "--workers", str(workers), *extra]
    )
    times = _Times()
    summary = run_batch(args, times)
    if summary.failures:
        raise SystemExit(f"{len(summary.failures)} lines failed; see {outdir / 'report.jsonl'}")
    done = times.finished
    whole = 60.0 * len(done) / (done[-1] - times.start)
    warm = 60.0 * (len(done) - workers) / (done[-1] - done[workers - 1]) if len(done) > workers else float("nan")
    return whole, warm
