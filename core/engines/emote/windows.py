"""Any length: one pass where memory allows, else overlapping windows cross-faded together.

Upstream's attention biases are fixed 1200 x 1200 tables (48 s), but they are formulas, so the
network runs any length in one pass (``network.temporal_bias``). What bounds a pass is memory: the
wav2vec2 conv features grow linearly with the clip and the biased attention quadratically, so
:func:`single_pass_frames` estimates the longest clip that fits the device's budget. Longer clips run
in windows of that size whose starts are multiples of the squash factor (8), so every window groups
frames exactly as a single pass would, blended with a linear cross-fade over ``overlap`` frames.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable

import numpy as np
import torch

from core.engines.base import ProgressFn, check_cancel
from core.engines.emote.config import EmoteConfig
from core.engines.emote.inputs import SAMPLES_PER_FRAME

UPSTREAM_TABLE_FRAMES = 1200  # the official code's bias tables: the longest pass it can make
OVERLAP_FRAMES = 96  # 3.84 s of shared context, cross-faded between windows
ALIGN = 8
MIN_WINDOW = 256  # at least two overlaps and a stride


def memory_budget(device: torch.device) -> int:
    """Bytes one pass may use: half the free memory of a GPU, a quarter of the machine's RAM on CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free // 2
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def _cost(cfg: EmoteConfig) -> tuple[float, float]:
    """Estimated bytes per frame and per frame pair of one pass.

    Per frame: wav2vec2's first conv output (channels × 640/stride samples, float32, with one copy
    for its norm and activation). Per frame pair: the biased attention's bias, logits and weights
    for the larger head count (float32, with one spare copy).
    """
    conv_dim = cfg.wav2vec2.get("conv_dim") or [512]
    stride = (cfg.wav2vec2.get("conv_stride") or [5])[0]
    return 2 * 4 * conv_dim[0] * SAMPLES_PER_FRAME / stride, 4 * 4 * max(cfg.bert_nhead, cfg.flint.nhead)


def pass_bytes(cfg: EmoteConfig, frames: int) -> int:
    """Estimated peak memory of one pass over ``frames`` frames."""
    linear, quadratic = _cost(cfg)
    return math.ceil(linear * frames + quadratic * frames * frames)


def single_pass_frames(cfg: EmoteConfig, budget: int) -> int:
    """The longest clip, in frames (a multiple of 8), whose :func:`pass_bytes` fits ``budget``."""
    linear, quadratic = _cost(cfg)
    frames = int((-linear + math.sqrt(linear * linear + 4 * quadratic * budget)) / (2 * quadratic)) // ALIGN * ALIGN
    while pass_bytes(cfg, frames + ALIGN) <= budget:  # the closed form, exact to the byte
        frames += ALIGN
    while frames > MIN_WINDOW and pass_bytes(cfg, frames) > budget:
        frames -= ALIGN
    return max(MIN_WINDOW, frames)


def plan_windows(num_frames: int, window: int, overlap: int = OVERLAP_FRAMES) -> list[tuple[int, int]]:
    """[start, end) frame ranges covering ``num_frames``; starts are multiples of 8."""
    if window % ALIGN or overlap % ALIGN or not 0 < overlap <= (window - overlap):
        raise ValueError("window and overlap must be multiples of 8 with overlap ≤ window − overlap")
    if num_frames <= window:
        return [(0, num_frames)]
    stride = window - overlap
    spans = [(s, s + window) for s in range(0, num_frames - window, stride)]
    last = -(-(num_frames - window) // ALIGN) * ALIGN
    spans.append((last, num_frames))
    return spans


def fade_weights(spans: list[tuple[int, int]], overlap: int) -> list[np.ndarray]:
    """Per-window weights (summing to 1 per frame): linear fade over the last ``overlap`` frames of each
    window before the next one, which fades in over the same frames."""
    weights = [np.ones(e - s, dtype=np.float32) for s, e in spans]
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    for k in range(len(spans) - 1):
        (s0, e0), (s1, _) = spans[k], spans[k + 1]
        f0 = e0 - overlap
        weights[k][f0 - s0 :] = 1.0 - ramp
        weights[k + 1][: f0 - s1] = 0.0
        weights[k + 1][f0 - s1 : e0 - s1] = ramp
    return weights


def run_windows(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input_values: np.ndarray,
    condition: np.ndarray,
    device: torch.device,
    window: int,
    overlap: int = OVERLAP_FRAMES,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Apply ``forward(audio (1, n·640), condition (1, n, C)) → (1, n, D)`` over windows; returns (T, D)."""
    num_frames = condition.shape[0]
    spans = plan_windows(num_frames, window, overlap)
    weights = fade_weights(spans, overlap)
    out: np.ndarray | None = None
    for k, ((s, e), w) in enumerate(zip(spans, weights, strict=True)):
        check_cancel(cancel)
        if progress:
            progress(k / len(spans), "EMOTE" if len(spans) == 1 else f"EMOTE window {k + 1}/{len(spans)}")
        audio = torch.from_numpy(input_values[s * SAMPLES_PER_FRAME : e * SAMPLES_PER_FRAME]).to(device)[None]
        cond = torch.from_numpy(condition[s:e]).to(device)[None]
        with torch.inference_mode():
            pred = forward(audio, cond)[0].float().cpu().numpy()
        if out is None:
            out = np.zeros((num_frames, pred.shape[1]), dtype=np.float32)
        out[s:e] += pred * w[:, None]
    check_cancel(cancel)
    assert out is not None
    return out
