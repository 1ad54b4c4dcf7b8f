"""Any length: run EMOTE over overlapping windows and cross-fade them.

Upstream's attention biases are fixed 1200 x 1200 tables (BertPriorDecoder sets ``max_len = 1200``;
FLINT falls back to 1200 because ``max_len`` is never read), so one pass covers at most 1200 frames
(48 s). Clips up to that length run in a single pass, identical to upstream; longer clips run in
windows of at most 1200 frames whose starts are multiples of the squash factor (8), so every window
groups frames exactly as a single pass would, and consecutive windows are blended with a linear
cross-fade over ``overlap`` frames.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from core.engines.base import ProgressFn, check_cancel
from core.engines.emote.inputs import SAMPLES_PER_FRAME
from core.engines.emote.network import MAX_BIAS_FRAMES

WINDOW_FRAMES = MAX_BIAS_FRAMES
OVERLAP_FRAMES = 96  # 3.84 s of shared context, cross-faded between windows
ALIGN = 8


def plan_windows(num_frames: int, window: int = WINDOW_FRAMES, overlap: int = OVERLAP_FRAMES) -> list[tuple[int, int]]:
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
    window: int = WINDOW_FRAMES,
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
            progress(k / len(spans), f"EMOTE window {k + 1}/{len(spans)}")
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
