"""Skin topology: a quad grid in (azimuth, polar angle) around a head centre, with three slits
(mouth and eyes) whose surrounding rings of grid cells are bent into elliptic edge loops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD_CENTER = np.array([0.0, 0.020, 0.165])
N_AZIMUTH = 144
N_POLAR = 96


def _warp(density, lo: float, hi: float, n: int) -> np.ndarray:
    """n+1 samples over [lo, hi] spaced inversely to ``density`` (monotone, exact end points)."""
    x = np.linspace(lo, hi, 4001)
    rho = density(x)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
    return np.interp(np.linspace(0.0, cum[-1], n + 1), cum, x)


def azimuths() -> np.ndarray:
    """Column azimuths (N_AZIMUTH,), 0 = front (-Y), positive towards +X; denser over the face."""
    half = _warp(lambda u: 1.0 + 2.2 * np.exp(-((u / 0.85) ** 2)), 0.0, np.pi, N_AZIMUTH // 2)
    return np.concatenate([half[:-1], -half[::-1][:-1]])


def polar_angles() -> np.ndarray:
    """Row polar angles (N_POLAR+1,) from the crown (0) to the neck base (pi); denser over the face."""

    def density(p: np.ndarray) -> np.ndarray:
        rise = 1.0 / (1.0 + np.exp(-(p - 1.05) / 0.06))
        fall = 1.0 / (1.0 + np.exp((p - 2.62) / 0.06))
        return 1.0 + 1.8 * rise * fall

    return _warp(density, 0.0, np.pi, N_POLAR)


def direction(u: np.ndarray, phi: np.ndarray) -> np.ndarray:
    s = np.sin(phi)
    return np.stack([s * np.sin(u), -s * np.cos(u), np.cos(phi)], axis=-1)


def to_param(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth, polar angle) of points seen from HEAD_CENTER."""
    v = points - HEAD_CENTER
    r = np.linalg.norm(v, axis=-1)
    return np.arctan2(v[..., 0], -v[..., 1]), np.arccos(np.clip(v[..., 2] / r, -1.0, 1.0))


@dataclass(frozen=True)
class Slit:
    """A horizontal cut of 2*half_len cells in the grid, centred on a grid vertex, with `rings` loops.

    The loop targets are ellipses in a frontal plane (X right, Z up) around ``center`` (x, y, z):
    ``widths[k]``, ``heights_up[k]``, ``heights_down[k]`` for ring k = 0 (the slit) .. len-1; rings
    beyond the list blend into the plain grid, which they reach at ring ``rings``. With ``sphere_radius``
    the sizes are instead angles (radians: azimuth and elevation) on a sphere of that radius around center.
    """

    name: str
    center: tuple[float, float, float]
    half_len: int
    rings: int
    widths: tuple[float, ...]
    heights_up: tuple[float, ...]
    heights_down: tuple[float, ...]
    tilt: float = 0.0  # the lateral (+X) end raised by this much, the medial end lowered
    sphere_radius: float | None = None


def ring_coords(di: np.ndarray, dj: np.ndarray, half_len: int, lower: np.ndarray):
    """Ring index k, loop angle theta and vertical ring coordinate q in [-1, 1] (sin theta on the slit,
    dj / k on the rings) of cells offset (di right, dj up) from a slit centre."""
    L = half_len
    k = np.maximum(np.abs(di) - L, np.abs(dj))
    theta = np.zeros(di.shape)
    slit = k == 0
    t_slit = np.pi * (L - di) / (2 * L)
    theta[slit] = np.where(lower[slit], -t_slit[slit], t_slit[slit])
    kk = np.maximum(k, 1)
    n = 4 * L + 8 * kk
    w = L + kk
    idx = np.select(
        [(di == w) & (dj >= 0), dj == kk, di == -w, dj == -kk],
        [dj, kk + (w - di), kk + 2 * w + (kk - dj), 3 * kk + 2 * w + (di + w)],
        default=3 * kk + 4 * w + (dj + kk),
    )
    theta[~slit] = (2 * np.pi * idx / n)[~slit]
    theta = np.where(theta > np.pi, theta - 2 * np.pi, theta)
    return k, theta, np.where(slit, np.sin(theta), dj / kk)


def ring_target(slit: Slit, k: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Frontal-plane target points of ring k at angle theta (left-side convention), (N,3)."""
    m = len(slit.widths) - 1
    kf = np.minimum(k, m)
    w = np.asarray(slit.widths)[kf]
    hu = np.asarray(slit.heights_up)[kf]
    hd = np.asarray(slit.heights_down)[kf]
    c, s = np.cos(theta), np.sin(theta)
    x = w * c
    z = np.where(s >= 0, hu, hd) * s + slit.tilt * c
    if slit.sphere_radius is not None:
        r = slit.sphere_radius
        unit = np.stack([np.sin(x) * np.cos(z), -np.cos(x) * np.cos(z), np.sin(z)], axis=-1)
        return np.asarray(slit.center) + r * unit
    cx, cy, cz = slit.center
    return np.stack([cx + x, np.full_like(x, cy), cz + z], axis=-1)


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
