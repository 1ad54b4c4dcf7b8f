"""`mouthpiece bench sadtalker`: real-time factor of SadTalker's ExpNet + PoseVAE (full size, random weights).

Builds the released sizes (Wav2Lip audio encoders of 32..512 channels, PoseVAE with 46 styles, 32-frame
windows, latent 64) with random weights and runs the engine's path on a synthetic speech-like clip:
mel front end (numpy) → ExpNet → PoseVAE → Savitzky–Golay. Reports each stage's wall time, the real-time
factor (wall time / audio duration), CPU time and peak memory, on the CPU and, when torch sees one, on
the GPU. No weights are needed.
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


def measure(seconds: float = 60.0, device: str = "cpu", threads: int | None = None, repeats: int = 1) -> dict[str, Any]:
    """Time one clip of ``seconds`` through the full-size nets on ``device``; figures as a dict."""
    import torch

    from core.engines.sadtalker.audio import mel_windows
    from core.engines.sadtalker.engine import blink_schedule, predict_expression
    from core.engines.sadtalker.expnet import ExpNet
    from core.engines.sadtalker.posevae import PoseVAENet, predict_pose

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    start = time.perf_counter()
    expnet = ExpNet().eval().requires_grad_(False).to(dev)
    posevae = PoseVAENet().eval().requires_grad_(False).to(dev)
    build_s = time.perf_counter() - start
    audio = speech_like(seconds)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    predict_pose(posevae, mel_windows(audio[:16000]), 0, 0)  # warm-up: kernels, allocator
    best: dict[str, float] = {}
    for _ in range(max(1, repeats)):
        sync()
        times = {"start": time.perf_counter(), "cpu": time.process_time()}
        mels = mel_windows(audio)
        times["mel"] = time.perf_counter()
        ratio = blink_schedule(len(mels), np.random.default_rng(0))
        exp = predict_expression(expnet, mels, np.zeros(64, dtype=np.float32), ratio)
        sync()
        times["expnet"] = time.perf_counter()
        pose = predict_pose(posevae, mels, 7, 0)
        sync()
        times["posevae"] = time.perf_counter()
        run = {
            "mel": times["mel"] - times["start"],
            "expnet": times["expnet"] - times["mel"],
            "posevae": times["posevae"] - times["expnet"],
            "wall": times["posevae"] - times["start"],
            "cpu": time.process_time() - times["cpu"],
        }
        if not best or run["wall"] < best["wall"]:
            best = run
    assert exp.shape == (len(mels), 64) and pose.shape == (len(mels), 6) and np.isfinite(exp).all()
    return {
        **machine(dev),
        "clip_seconds": seconds,
        "frames": len(mels),
        "build_seconds": round(build_s, 3),
        "mel_seconds": round(best["mel"], 3),
        "expnet_seconds": round(best["expnet"], 3),
        "posevae_seconds": round(best["posevae"], 3),
        "wall_seconds": round(best["wall"], 3),
        "real_time_factor": round(best["wall"] / seconds, 4),
        "cpu_seconds": round(best["cpu"], 3),
        **peak_memory(dev),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench sadtalker", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default 60)")
    parser.add_argument("--device", help="cpu or cuda (default: cpu, and cuda too when torch sees a GPU)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the fastest is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON, one line per device")
    args = parser.parse_args(argv)
    if args.seconds < 0.12:
        parser.error("--seconds must be at least 0.12 (three 25 fps frames)")
    if args.device:
        devices = [args.device]
    else:
        import torch

        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    for device in devices:
        print_figures(measure(args.seconds, device, args.threads, args.repeats), args.json)
        if not args.json:
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
