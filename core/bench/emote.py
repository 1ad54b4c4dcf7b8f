"""`mouthpiece bench emote`: speed and memory of the full-size EMOTE v2 network (random weights).

Builds the released architecture (wav2vec2-base, 256-d BERT layer, FLINTv2 decoder, 32 identities)
with random weights, animates a synthetic speech-like clip through the same windowed path as the
engine (``prepare_audio`` → conditions → ``run_windows``), and reports the real-time factor
(inference wall time / audio duration), CPU time, model build time and peak memory (process RSS on CPU,
``torch.cuda.max_memory_allocated`` on a GPU). No weights are needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.bench.figures import machine, peak_memory, print_figures, speech_like


def measure(seconds: float = 60.0, device: str = "cpu", threads: int | None = None, repeats: int = 1) -> dict[str, Any]:
    """Time the full-size network on a ``seconds`` clip; returns the figures as a dict."""
    import torch

    from core.engines.emote.config import EmoteConfig
    from core.engines.emote.inputs import condition_matrix, emotion_track, prepare_audio
    from core.engines.emote.network import EmoteNetwork
    from core.engines.emote.windows import run_windows

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    start = time.perf_counter()
    config = EmoteConfig.emote_v2()
    net = EmoteNetwork(config).eval().to(dev)
    build_s = time.perf_counter() - start
    audio = speech_like(seconds)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    walls, cpu = [], []
    for _ in range(max(1, repeats)):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start, start_cpu = time.perf_counter(), time.process_time()
        values = prepare_audio(audio)
        frames = values.size // 640
        cond = condition_matrix(emotion_track(frames, "happy", 0.5), 0, config.n_identities)
        out = run_windows(net, values, cond, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        walls.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert out.shape == (frames, config.flint.output_dim) and np.isfinite(out).all()
    return {
        **machine(dev),
        "clip_seconds": seconds,
        "frames": frames,
        "build_seconds": round(build_s, 3),
        "wall_seconds": round(min(walls), 3),
        "real_time_factor": round(min(walls) / seconds, 4),
        "cpu_seconds": round(min(cpu), 3),  # all threads; unlike wall time, not inflated by other load
        **peak_memory(dev),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench emote", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default 60)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the fastest is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    print_figures(measure(args.seconds, args.device, args.threads, args.repeats), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
