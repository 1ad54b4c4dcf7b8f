"""`mouthpiece bench styletalk`: our lean StyleTalk vs the official computation, full-size random weights.

Each variant runs in a fresh subprocess so that its peak resident memory is its own. The official
computation (a 1024×256 kernel materialised per frame per dynamic layer, the whole clip in one batch,
all 11 window positions decoded in every layer) is rebuilt here from the same modules as the baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from core.testing.samples import STYLETALK_SAMPLES as SAMPLES


def _inputs(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    labels = SAMPLES / "source_video" / "phoneme" / "reagan_clip1_seq.json"
    rng = np.random.default_rng(seed)
    if labels.is_file():
        seq = np.resize(np.asarray(json.loads(labels.read_text()), dtype=np.int64), frames)
    else:
        seq = rng.integers(0, 41, frames)
    style = rng.standard_normal((256, 64)).astype(np.float32) * 0.5
    return seq, style


def _official(net, windows, clip, mask):
    """The reference computation, for comparison only."""
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        style = net.style_encoder(clip, mask)
        content = net.content_encoder(windows[0])
        w, n, _ = content.shape
        style_frames = style.expand(n, -1)
        out = content.new_zeros(n, net.cfg.exp_dim)
        branches = (
            (net.decoder.upper_decoder, net.decoder.upper_tail_fc, net.cfg.upper_indices),
            (net.decoder.lower_decoder, net.decoder.lower_tail_fc, net.cfg.lower_indices),
        )
        for decoder, tail, indices in branches:
            x = net.decoder.pos_embed(w) + style_frames[None]
            for layer in decoder.layers:
                x = layer.norm1(x + layer.self_attn(x, x, x, need_weights=False)[0])
                x = layer.norm2(x + layer.multihead_attn(x, content, content, need_weights=False)[0])
                kernel, bias = layer.linear1.dynamic_conv.mixed(style_frames)  # one kernel per frame
                h = F.conv2d(  # as the official DynamicConv: a grouped 1x1 convolution over all frames
                    x.permute(1, 2, 0).reshape(1, -1, w, 1),
                    kernel.reshape(-1, kernel.shape[2], 1, 1),
                    bias.reshape(-1),
                    groups=n,
                )
                x = layer.norm3(x + layer.linear2(F.relu(h.view(n, -1, w).permute(2, 0, 1))))
            out[:, list(indices)] = tail(decoder.norm(x)[w // 2])
        return out[None]


def _measure(variant: str, frames: int, threads: int, seed: int) -> dict:
    import torch

    from core.engines.styletalk.config import StyleTalkConfig
    from core.engines.styletalk.model import StyleTalkNet, phoneme_windows
    from core.engines.styletalk.style_clip import pad_style_clip

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    net = StyleTalkNet(StyleTalkConfig()).eval()
    seq, style = _inputs(frames, seed)
    clip, mask = pad_style_clip(style, 256)
    windows = torch.from_numpy(phoneme_windows(seq, 5))[None]
    clip_t, mask_t = torch.from_numpy(clip)[None], torch.from_numpy(mask)[None]
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu_start = time.perf_counter(), time.process_time()
    out = _official(net, windows, clip_t, mask_t) if variant == "official" else net(windows, clip_t, mask_t)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(Path(f"/tmp/mouthpiece-bench-styletalk-{variant}.npy"), out[0].numpy())
    return {"variant": variant, "seconds": seconds, "cpu": cpu, "peak_mb": peak, "work_mb": peak - rss_loaded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench styletalk", description=__doc__)
    parser.add_argument("--frames", type=int, default=780, help="clip length in 30 fps frames (default 780)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=["lean", "official"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(_measure(args.variant, args.frames, args.threads, args.seed)))
        return 0
    results = {}
    for variant in ("official", "lean"):
        cmd = [sys.executable, "-m", "bench.styletalk", "--variant", variant, "--frames", str(args.frames)]
        cmd += ["--threads", str(args.threads), "--seed", str(args.seed)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    diff = np.abs(
        np.load("/tmp/mouthpiece-bench-styletalk-official.npy") - np.load("/tmp/mouthpiece-bench-styletalk-lean.npy")
    ).max()
    print(f"StyleTalk, full-size random weights, {args.frames} frames, {args.threads} CPU threads")
    print(f"{'variant':<10}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>14}{'working MB':>13}")
    for r in results.values():
        print(f"{r['variant']:<10}{r['seconds']:>9.2f}{r['cpu']:>9.2f}{r['peak_mb']:>14.0f}{r['work_mb']:>13.0f}")
    o, lean = results["official"], results["lean"]
    print(
        f"speed-up: {o['seconds'] / lean['seconds']:.1f}x wall, {o['cpu'] / lean['cpu']:.1f}x CPU   "
        f"peak memory ratio: {o['peak_mb'] / lean['peak_mb']:.1f}x"
        f"   working memory ratio: {o['work_mb'] / max(lean['work_mb'], 1):.1f}x"
    )
    print(f"max |official - lean| = {diff:.2e}")
    print("working MB = peak RSS minus RSS once torch and the model are loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
