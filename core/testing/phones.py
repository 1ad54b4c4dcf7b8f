"""Frame agreement of predicted phone labels with reference labels (StyleTalk indices, 30 fps)."""

from __future__ import annotations

import numpy as np

from core.phonetics import STYLETALK_INDEX, STYLETALK_SIL

NSN = STYLETALK_INDEX["NSN"]


def agreement(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(exact, ±1-frame tolerant) share of frames whose label the prediction matches."""
    pred = np.asarray(predicted)
    lab = np.where(np.asarray(labels) == NSN, STYLETALK_SIL, labels)
    if lab.size == 0:
        return 1.0, 1.0
    padded = np.concatenate([[STYLETALK_SIL], pred, [STYLETALK_SIL]])
    tolerant = (padded[1:-1] == lab) | (padded[:-2] == lab) | (padded[2:] == lab)
    return float(np.mean(pred == lab)), float(np.mean(tolerant))
