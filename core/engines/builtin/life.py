"""What keeps a face alive between words: blinks, eye saccades and small head motion (seeded)."""

from __future__ import annotations

import numpy as np

from core.engines.builtin.filters import gaussian

BLINK_MEAN_INTERVAL = 3.5  # s: about 17 blinks a minute
BLINK_MIN_INTERVAL = 0.9
DOUBLE_BLINK_CHANCE = 0.12


def blinks(times: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """(T,) eyelid closure 0..1 and the blink start times.

    Intervals are gamma distributed (shape 3: regular but not periodic) around 3.5 s; each blink lasts
    100–150 ms, closing in 40% of it and opening more slowly; some come as double blinks. The frame
    nearest each blink's apex is fully closed, so a blink survives any frame rate.
    """
    times = np.asarray(times, dtype=np.float64)
    curve = np.zeros(times.size)
    end = float(times[-1]) if times.size else 0.0
    starts: list[float] = []
    t = float(rng.uniform(0.4, 2.2))
    while t < end:
        starts.append(t)
        if rng.random() < DOUBLE_BLINK_CHANCE:
            starts.append(t + float(rng.uniform(0.2, 0.32)))
        t = starts[-1] + max(BLINK_MIN_INTERVAL, float(rng.gamma(3.0, BLINK_MEAN_INTERVAL / 3.0)))
    for s in starts:
        dur = float(rng.uniform(0.10, 0.15))
        apex = s + 0.4 * dur
        closing = (times >= s) & (times <= apex)
        opening = (times > apex) & (times <= s + dur)
        curve[closing] = np.maximum(curve[closing], np.sin(0.5 * np.pi * (times[closing] - s) / (apex - s)))
        x = (times[opening] - apex) / (s + dur - apex)
        curve[opening] = np.maximum(curve[opening], 1.0 - x * x * (3.0 - 2.0 * x))
        if times.size and apex <= end:
            curve[int(np.argmin(np.abs(times - apex)))] = 1.0
    return curve, [s for s in starts if s < end]


def saccades(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, 2) gaze (yaw right, pitch up) in degrees: fixations of 0.4–2.5 s joined by 40 ms saccades."""
    times = np.asarray(times, dtype=np.float64)
    end = float(times[-1]) if times.size else 0.0
    at, gaze = [0.0], [np.zeros(2)]
    while at[-1] < end:
        at.append(at[-1] + float(np.clip(rng.lognormal(0.0, 0.5), 0.4, 2.5)))
        # most fixations stay near the listener; a few glance further away
        reach = np.array([4.0, 2.5]) * (2.0 if rng.random() < 0.15 else 1.0)
        gaze.append(np.clip(rng.normal(0.0, 0.5, 2) * reach, -reach, reach))
    at_arr, gaze_arr = np.array(at), np.array(gaze)
    k = np.searchsorted(at_arr, times, side="right") - 1
    x = np.clip((times - at_arr[k]) / 0.04, 0.0, 1.0)
    prev = gaze_arr[np.maximum(k - 1, 0)]
    return prev + (gaze_arr[k] - prev) * (x * x * (3.0 - 2.0 * x))[:, None]


def gaze_channels(gaze: np.ndarray) -> dict[str, np.ndarray]:
    """ARKit eyeLook* curves for a (T, 2) gaze in degrees (1.0 ≈ 30° of eye rotation)."""
    yaw, pitch = gaze[:, 0] / 30.0, gaze[:, 1] / 30.0
    right, left = np.clip(yaw, 0, 1), np.clip(-yaw, 0, 1)
    up, down = np.clip(pitch, 0, 1), np.clip(-pitch, 0, 1)
    return {
        # looking to the face's right: the right eye turns out, the left eye turns in
        "eyeLookOutRight": right, "eyeLookInLeft": right,
        "eyeLookOutLeft": left, "eyeLookInRight": left,
        "eyeLookUpLeft": up, "eyeLookUpRight": up,
        "eyeLookDownLeft": down, "eyeLookDownRight": down,
    }  # fmt: skip


def head_motion(
    times: np.ndarray,
    level: np.ndarray,
    voice: np.ndarray,
    f0: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(T, 3) head rotation in degrees (pitch down, yaw right, roll) from the voice and slow drift.

    Loudness bursts give small nods, rising pitch lifts the head, and a slow seeded drift on every
    axis (stronger while speaking) keeps the head from freezing. A few degrees at most.
    """
    times = np.asarray(times, dtype=np.float64)
    n = times.size
    if n < 2:
        return np.zeros((n, 3))
    dt = float(times[1] - times[0])
    sigma = lambda seconds: max(seconds / dt, 0.5)  # noqa: E731
    # nods: loudness above its slow average, smoothed to a 150 ms gesture
    fast = gaussian(level, sigma(0.08))
    slow = gaussian(level, sigma(0.8))
    nod = 5.0 * np.clip(fast - slow, 0.0, None)
    # pitch: semitones above the speaker's median lift the head
    voiced = f0 > 0
    lift = np.zeros(n)
    if voiced.sum() > 5:
        semis = np.where(voiced, 12.0 * np.log2(np.maximum(f0, 1.0) / np.median(f0[voiced])), 0.0)
        lift = gaussian(np.clip(semis, -6.0, 6.0), sigma(0.25)) * 0.25
    activity = 0.4 + 0.6 * gaussian(voice, sigma(0.5))
    drift = np.stack([gaussian(rng.normal(0.0, 1.0, n), sigma(s)) for s in (0.9, 1.4, 1.8)], axis=1)
    drift /= np.maximum(drift.std(axis=0, keepdims=True), 1e-9)
    drift *= np.array([0.8, 1.6, 0.7])[None, :] * activity[:, None]
    rot = drift
    rot[:, 0] += nod - lift
    return np.clip(rot, -6.0, 6.0)


def head_rotvec(deg: np.ndarray) -> np.ndarray:
    """(T, 3) degrees (pitch down, yaw left, roll) → axis-angle radians in the rig's frame (Z up,
    front -Y, left +X): pitch about +X, roll about +Y, yaw about +Z, applied in that order."""
    half = np.radians(np.asarray(deg, dtype=np.float64)) / 2.0
    c, s = np.cos(half), np.sin(half)
    qx = np.stack([c[:, 0], s[:, 0], 0 * c[:, 0], 0 * c[:, 0]], axis=1)  # (w, x, y, z)
    qy = np.stack([c[:, 2], 0 * c[:, 2], s[:, 2], 0 * c[:, 2]], axis=1)
    qz = np.stack([c[:, 1], 0 * c[:, 1], 0 * c[:, 1], s[:, 1]], axis=1)
    q = _qmul(qz, _qmul(qy, qx))
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    norm = np.linalg.norm(q[:, 1:], axis=1, keepdims=True)
    angle = 2.0 * np.arctan2(norm, q[:, :1])
    return np.where(norm > 1e-12, q[:, 1:] / np.maximum(norm, 1e-12) * angle, 2.0 * q[:, 1:])


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (T, 4) quaternions (w, x, y, z)."""
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=1,
    )
