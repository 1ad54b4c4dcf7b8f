"""Key reduction: the fewest keys whose linear interpolation stays within a tolerance of every frame."""

from __future__ import annotations

import numpy as np


def reduce_keys(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the samples to key (first and last always) so that linear interpolation between
    them is within ``tolerance`` of every sample (Ramer–Douglas–Peucker on evenly spaced frames).

    Both the original keys and the reduced ones are linear between whole frames, so the bound holds
    at every time, not only at the frames."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, n - 1)]
    while spans:
        a, b = spans.pop()
        if b - a < 2:
            continue
        t = np.arange(1, b - a) / (b - a)
        error = np.abs(values[a + 1 : b] - (values[a] + (values[b] - values[a]) * t))
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            middle = a + 1 + worst
            keep[middle] = True
            spans += [(a, middle), (middle, b)]
    return np.flatnonzero(keep)
