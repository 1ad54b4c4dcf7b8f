"""`mouthpiece bench render`: frames/s and peak memory of the neural renderer at full size.

The network is PIRenderer at the official ``configs/renderer_conf.yaml`` sizes (22.5 M parameters) with
random weights (speed does not depend on the values); the input is a random portrait and random
coefficient windows. Timed per batch size: the forward pass plus the uint8 conversion, after one warm-up
batch; reported as wall-clock frames/s and as frames per CPU-second (less distorted on a busy machine,
and equal to frames/s with one thread on an idle one). Memory: on the CPU the process's peak resident
set (batch sizes run in ascending order, so each figure is the peak up to and including that batch
size); on a GPU the peak allocated by torch.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence

import torch

from core.render.model import FaceGenerator, RendererConfig
from core.render.pipeline import to_uint8
from core.render.windows import RENDER_FPS


def _rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(net: FaceGenerator, device: torch.device, batch: int, frames: int) -> dict[str, float]:
    """Render ``frames`` frames (rounded up to whole batches) at ``batch``; frames/s and peak memory."""
    cfg = net.cfg
    gen = torch.Generator().manual_seed(0)
    source = (torch.rand(1, 3, cfg.image_size, cfg.image_size, generator=gen) * 2 - 1).to(device)
    windows = torch.randn(batch, cfg.coeff_nc, cfg.window, generator=gen).to(device)
    runs = max(1, -(-frames // batch))
    with torch.inference_mode():
        to_uint8(net(source, windows)["fake_image"])  # warm-up (allocator, cuDNN autotune)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(runs):
            to_uint8(net(source, windows)["fake_image"])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _rss_peak_mib()
    fps = runs * batch / elapsed
    return {
        "batch": batch,
        "frames": runs * batch,
        "seconds": elapsed,
        "cpu_seconds": cpu_seconds,
        "fps": fps,
        "frames_per_cpu_second": runs * batch / cpu_seconds,
        "peak_mib": peak,
    }


def bench_device(device: torch.device, batches: Sequence[int], frames: int, size: int) -> list[dict[str, float]]:
    torch.manual_seed(0)
    net = FaceGenerator(RendererConfig(image_size=size)).to(device).eval()
    rows = []
    for batch in sorted(batches):
        row = measure(net, device, batch, frames)
        rows.append(row)
        what = "peak allocated" if device.type == "cuda" else "peak RSS"
        print(
            f"{device.type:>4}  batch {batch:>3}  {row['fps']:7.2f} frames/s  "
            f"({row['fps'] / RENDER_FPS:5.2f}× real time at {RENDER_FPS:g} fps, "
            f"{row['frames_per_cpu_second']:.2f} frames per CPU-second)  {what} {row['peak_mib']:6.0f} MiB",
            flush=True,
        )
    return rows


def _batches(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch sizes are comma-separated integers, got '{text}'") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("batch sizes must be ≥ 1")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench render", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--cpu-batches", type=_batches, default=[1, 4], help="CPU batch sizes (default 1,4)")
    parser.add_argument("--cpu-frames", type=int, default=8, help="frames timed per CPU batch size (default 8)")
    parser.add_argument("--gpu-batches", type=_batches, default=[1, 8, 16, 32], help="GPU batch sizes")
    parser.add_argument("--gpu-frames", type=int, default=256, help="frames timed per GPU batch size")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU even when one is present")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.size < 64 or args.size % 32:
        parser.error("--size must be a multiple of 32, at least 64")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"PIRenderer, official sizes, {args.size}×{args.size}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads",
        flush=True,
    )
    report: dict[str, object] = {"size": args.size, "threads": torch.get_num_threads()}
    report["cpu"] = bench_device(torch.device("cpu"), args.cpu_batches, args.cpu_frames, args.size)
    if torch.cuda.is_available() and not args.no_gpu:
        report["gpu_name"] = torch.cuda.get_device_name(0)
        report["cuda"] = bench_device(torch.device("cuda"), args.gpu_batches, args.gpu_frames, args.size)
    else:
        print("no CUDA GPU: GPU figures skipped")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
