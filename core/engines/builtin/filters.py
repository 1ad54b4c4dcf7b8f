"""Small 1-D filters in numpy (edge values extend past the ends); scipy.ndimage costs a third of a
second to import, which the command line's start-up cannot spare."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x: np.ndarray, size: int) -> np.ndarray:
    left = size // 2
    padded = np.pad(np.asarray(x, dtype=np.float64), (left, size - 1 - left), mode="edge")
    return sliding_window_view(padded, size)


def moving_mean(x: np.ndarray, size: int) -> np.ndarray:
    return _windows(x, size).mean(axis=1)


def moving_max(x: np.ndarray, size: int) -> np.ndarray:
    return _windows(x, size).max(axis=1)


def moving_min(x: np.ndarray, size: int) -> np.ndarray:
    return _windows(x, size).min(axis=1)


def closing(x: np.ndarray, size: int) -> np.ndarray:
    """Grey-scale closing: fills dips narrower than ``size`` samples."""
    return moving_min(moving_max(x, size), size)


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing with standard deviation ``sigma`` samples."""
    radius = max(1, int(4.0 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(np.asarray(x, dtype=np.float64), radius, mode="edge")
    return np.convolve(padded, k / k.sum(), mode="valid")
