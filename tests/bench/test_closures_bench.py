"""`mouthpiece bench closures`: the trainer of the bilabial-closure classifier."""

from __future__ import annotations

import numpy as np

from bench.closures import fit
from core.engines.builtin import closures as cl


def test_the_fit_recovers_a_known_logistic_model():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (4000, cl.FEATURES))
    true = np.zeros(cl.FEATURES)
    true[[0, 5]] = (2.0, -1.5)
    p = 1.0 / (1.0 + np.exp(-(((x - 3.0) / 2.0) @ true - 0.5)))
    y = rng.random(4000) < p
    model = fit(x, y, regularisation=1.0)
    assert np.allclose(model.weights[[0, 5]], true[[0, 5]], atol=0.25)
    assert np.abs(np.delete(model.weights, [0, 5])).max() < 0.2
    assert abs(model.bias + 0.5) < 0.15
    assert np.abs(model.probability(x) - p).mean() < 0.05
