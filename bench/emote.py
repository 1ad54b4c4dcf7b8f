"""`mouthpiece bench emote`: speed, memory and long-clip error of the full-size EMOTE v2 network (random weights).

Builds the released architecture (wav2vec2-base, 256-d BERT layer, FLINTv2 decoder, 32 identities)
with random weights and animates a synthetic speech-like clip through the engine's path
(``prepare_audio`` → conditions → ``run_windows``) in one pass, timing it: the real-time factor
(inference wall time / audio duration), CPU time, model build time and peak memory (process RSS on CPU,
``torch.cuda.max_memory_allocated`` on a GPU). The same clip then runs in windows of the upstream
code's 1200-frame bias tables, as it would past the memory bound, and the seam error (windowed vs
one pass) is reported where the windows cross-fade and over the whole clip. No weights are needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.figures import machine, peak_memory, print_figures
from core.testing.signals import speech_like


def measure(
    seconds: float = 60.0, device: str = "cpu", threads: int | None = None, repeats: int = 1, seams: bool = True
) -> dict[str, Any]:
    """Time the full-size network on a ``seconds`` clip, and its seam error in windows; the figures as a dict."""
    import torch

    from core.engines.emote.config import EmoteConfig
    from core.engines.emote.inputs import condition_matrix, emotion_track, prepare_audio
    from core.engines.emote.network import EmoteNetwork
    from core.engines.emote.windows import (
        OVERLAP_FRAMES,
        UPSTREAM_TABLE_FRAMES,
        memory_budget,
        pass_bytes,
        plan_windows,
        run_windows,
        single_pass_frames,
    )

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    start = time.perf_counter()
    config = EmoteConfig.emote_v2()
    net = EmoteNetwork(config).eval().to(dev)
    build_s = time.perf_counter() - start
    audio = speech_like(seconds)
    values = prepare_audio(audio)
    frames = values.size // 640
    cond = condition_matrix(emotion_track(frames, "happy", 0.5), 0, config.n_identities)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    walls, cpu = [], []
    for _ in range(max(1, repeats)):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start, start_cpu = time.perf_counter(), time.process_time()
        single = run_windows(net, prepare_audio(audio), cond, dev, window=max(256, -(-frames // 8) * 8))
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        walls.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert single.shape == (frames, config.flint.output_dim) and np.isfinite(single).all()
    result: dict[str, Any] = {
        **machine(dev),
        "clip_seconds": seconds,
        "frames": frames,
        "build_seconds": round(build_s, 3),
        "wall_seconds": round(min(walls), 3),
        "real_time_factor": round(min(walls) / seconds, 4),
        "cpu_seconds": round(min(cpu), 3),  # all threads; unlike wall time, not inflated by other load
        **peak_memory(dev),
        "estimated_pass_mib": round(pass_bytes(config, frames) / 2**20),
        "single_pass_seconds": round(single_pass_frames(config, memory_budget(dev)) / 25, 1),
    }
    spans = plan_windows(frames, UPSTREAM_TABLE_FRAMES, OVERLAP_FRAMES)
    if seams and len(spans) > 1:
        windowed = run_windows(net, values, cond, dev, window=UPSTREAM_TABLE_FRAMES)
        fade = np.zeros(frames, bool)
        for _, end in spans[:-1]:
            fade[end - OVERLAP_FRAMES : end] = True
        error = np.abs(windowed - single)
        result |= {
            "windows": len(spans),
            "seam_max_error": float(f"{error[fade].max():.3g}"),
            "seam_mean_error": float(f"{error[fade].mean():.3g}"),
            "clip_max_error": float(f"{error.max():.3g}"),
            "output_max_abs": float(f"{np.abs(single).max():.3g}"),
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench emote", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default 60)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the fastest is reported")
    parser.add_argument("--no-seams", action="store_true", help="skip the windowed run (seam error)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    print_figures(measure(args.seconds, args.device, args.threads, args.repeats, not args.no_seams), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
