"""Bounded, temporally smooth least squares for a whole take at once, vectorised over frames.

Per frame t the weights w_t minimise  ½ w_tᵀ H w_t − b_tᵀ w_t  with  H = G + diag(p),
b_t = r_t + p ⊙ a_t: G (C,C) the region-weighted Gram matrix of the basis (the same for every
frame), r_t the projected source displacement, p the per-channel prior weights (the small L2 term,
and the jaw and eye priors) with targets a_t; the temporal term adds  ½ μ Σ_c H_cc (w_{t+1,c} − w_tc)².

Two exact steps: (1) the unconstrained smooth optimum over all frames at once: after Jacobi scaling
(unit diagonal), with the scaled H = QΛQᵀ and the first-difference operator diagonalised by the
DCT-II, it is a diagonal division in (DCT × Q) coordinates; (2) each frame's bound constraint
0 ≤ w ≤ 1, as the H-metric projection of that optimum onto the box, by a primal-dual active-set
method batched over the frames. Where no bound is active this is the joint optimum; where one is,
the clamp is per frame.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct, idct
from scipy.optimize import lsq_linear

ACTIVE_SET_PASSES = 12


def _smooth_optimum(h: np.ndarray, b: np.ndarray, smooth: float) -> np.ndarray:
    lam, q = np.linalg.eigh(0.5 * (h + h.T))
    lam = np.maximum(lam, 1e-12 * max(float(lam.max()), 1e-30))
    t = b.shape[0]
    omega = 2.0 - 2.0 * np.cos(np.pi * np.arange(t) / t)
    y = dct(b @ q, type=2, norm="ortho", axis=0) / (lam[None, :] + smooth * omega[:, None])
    return idct(y, type=2, norm="ortho", axis=0) @ q.T


def box_qp(h: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per row t: argmin ½ yᵀ h y − b_tᵀ y over lo ≤ y ≤ hi, batched over rows.

    Primal-dual active set (Hintermüller, Ito & Kunisch 2002): guess the bounds that hold from the
    multipliers, solve the equality-constrained system exactly, repeat until the guess is stable
    (a handful of passes); rows leave the batch as they settle, and the rare rows whose guesses
    cycle get an exact bounded least-squares solve of their own.
    """
    y = start.copy()
    g = np.zeros_like(y)  # at the unconstrained optimum the gradient is zero
    eye = np.eye(h.shape[0], dtype=bool)
    rows = np.arange(len(y))
    sets = np.zeros((len(y), 2, h.shape[0]), dtype=bool)
    for _ in range(ACTIVE_SET_PASSES):
        if not len(rows):
            break
        yr, gr = y[rows], g[rows]
        at_lo = gr - (yr - lo) > 0
        at_hi = gr + (hi - yr) < 0
        at_hi &= ~at_lo
        fixed = at_lo | at_hi
        settled = np.all(sets[rows, 0] == at_lo, axis=1) & np.all(sets[rows, 1] == at_hi, axis=1)
        sets[rows, 0], sets[rows, 1] = at_lo, at_hi
        fix_val = np.where(at_lo, lo, np.where(at_hi, hi, 0.0))
        free = ~fixed
        m = np.where(free[:, :, None] & free[:, None, :], h[None], eye[None])
        rhs = np.where(free, b[rows] - fix_val @ h, fix_val)
        yn = np.linalg.solve(m, rhs[..., None])[..., 0]
        y[rows] = yn
        g[rows] = yn @ h - b[rows]
        rows = rows[~settled]
    if len(rows):  # the rare rows where the guesses cycle: an exact bounded least-squares solve each
        chol = np.linalg.cholesky(h)
        for r in rows:
            y[r] = lsq_linear(chol.T, np.linalg.solve(chol, b[r]), bounds=(lo, hi), method="bvls").x
    return np.clip(y, lo, hi)


def solve_bounded_smooth(
    gram: np.ndarray,
    rhs: np.ndarray,
    prior_weight: np.ndarray,
    prior_target: np.ndarray,
    smooth: float,
    lo: float = 0.0,
    hi: float = 1.0,
) -> np.ndarray:
    """(T,C) weights in [lo, hi] for the problem above (``smooth`` = μ)."""
    t, c = rhs.shape
    if t == 0:
        return np.zeros((0, c))
    h = gram + np.diag(prior_weight)
    d = 1.0 / np.sqrt(np.maximum(np.diag(h), 1e-300))
    hs = h * d[:, None] * d[None, :]
    b = (rhs + prior_weight * prior_target) * d
    start = _smooth_optimum(hs, b, smooth)
    target = start @ hs  # the H-metric projection of the smooth optimum: ½ yᵀHy − (H y*)ᵀ y
    y = box_qp(hs, target, np.full(c, lo) / d, np.full(c, hi) / d, start)
    return y * d
