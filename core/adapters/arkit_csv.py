"""ARKit blendshape CSV in Epic's Live Link Face layout (export and import).

Header: ``Timecode,BlendShapeCount``, the 52 blendshape names in PascalCase in Live Link Face's order (which
differs from Apple's: ``JawRight`` before ``JawLeft``, ``MouthRight`` before ``MouthLeft``), then
``HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll``.
``BlendShapeCount`` is 61 (52 shapes + 9 angles). One row per frame; the timecode is ``HH:MM:SS:FF.fff``
where ``FF`` counts frames at the timecode rate and ``.fff`` is the sub-frame fraction.

Angles are radians. Yaw, pitch and roll turn about the head's up (+Y), right-to-left (+X) and forward (+Z)
axes of the ARKit/FLAME face frame, composed as ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``; the track holds
them as axis-angle ``head``, ``eye_L`` and ``eye_R`` rotations.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from core.arkit import ARKIT_CHANNELS
from core.errors import InputError
from core.resample import lerp_at, slerp_at
from core.track import Track

LIVE_LINK_FACE_ORDER: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawRight", "jawLeft", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight", "mouthLeft",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip
assert sorted(LIVE_LINK_FACE_ORDER) == sorted(ARKIT_CHANNELS)

# CSV column prefix → track rotation name; each has Yaw, Pitch, Roll columns.
ROTATION_COLUMNS: dict[str, str] = {"Head": "head", "LeftEye": "eye_L", "RightEye": "eye_R"}
ANGLE_SUFFIXES: tuple[str, ...] = ("Yaw", "Pitch", "Roll")
HEADER: tuple[str, ...] = (
    "Timecode",
    "BlendShapeCount",
    *(name[0].upper() + name[1:] for name in LIVE_LINK_FACE_ORDER),
    *(prefix + suffix for prefix in ROTATION_COLUMNS for suffix in ANGLE_SUFFIXES),
)
STANDARD_RATES: tuple[int, ...] = (24, 25, 30, 48, 50, 60, 120)
DEFAULT_RATE = 60  # Live Link Face records at 60 fps unless told otherwise
_EULER = "YXZ"  # intrinsic: R = Ry(yaw) @ Rx(pitch) @ Rz(roll)
_TIMECODE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(?:\.(\d+))?$")
_ON_GRID = 0.25  # frames: rows within this of consecutive whole frames are taken one frame each
_DAY_S = 86400


def read_arkit_csv(path: str | Path, fps: float | None = None) -> Track:
    """Read a Live Link Face CSV as an ``arkit`` track.

    ``fps`` is the timecode rate; by default it is inferred from the largest frame field (the smallest
    standard rate above it, 60 when the take is too short to tell). Rows that are not one frame apart are
    resampled onto a regular grid at that rate (meta warning). Unknown columns are ignored (meta warning).
    """
    path = Path(path)
    header, rows = _read_rows(path)
    warnings: list[str] = []
    lookup = {name.lower(): name for name in ARKIT_CHANNELS}
    shape_cols: dict[str, int] = {}
    angle_cols: dict[str, int] = {}
    unknown: list[str] = []
    angle_names = {(p + s).lower(): p + s for p in ROTATION_COLUMNS for s in ANGLE_SUFFIXES}
    for i, col in enumerate(header[1:], start=1):
        if col.lower() in lookup:
            shape_cols[lookup[col.lower()]] = i
        elif col.lower() in angle_names:
            angle_cols[angle_names[col.lower()]] = i
        elif col.lower() != "blendshapecount":
            unknown.append(col)
    if unknown:
        warnings.append(f"ignored {len(unknown)} unknown CSV column(s): {', '.join(unknown[:8])}")
    if not shape_cols:
        raise InputError(f"{path}: no ARKit blendshape columns (e.g. JawOpen) in the header")

    channels = [name for name in ARKIT_CHANNELS if name in shape_cols]
    data = _numbers(path, rows, [shape_cols[c] for c in channels] + list(angle_cols.values()))
    values = data[:, : len(channels)]
    angles = dict(zip(angle_cols, data[:, len(channels) :].T, strict=True))
    rotations: dict[str, np.ndarray] = {}
    for prefix, name in ROTATION_COLUMNS.items():
        if prefix + "Yaw" in angles and prefix + "Pitch" in angles:
            zero = np.zeros(len(rows))
            yaw, pitch, roll = (angles.get(prefix + s, zero) for s in ANGLE_SUFFIXES)
            rotations[name] = _euler_to_rotvec(np.stack([yaw, pitch, roll], axis=1))

    rate, guessed = _timecode_rate(path, rows, fps)
    if guessed:
        warnings.append(
            f"the timecode rate could not be told from this short take; assumed {rate:g} fps "
            "(give the frame rate explicitly if it differs)"
        )
    frames = _frame_positions(path, rows, rate)
    offsets = frames - frames[0] if len(frames) else frames
    if len(offsets) and not np.allclose(offsets, np.arange(len(offsets)), atol=_ON_GRID, rtol=0):
        pos = np.interp(np.arange(math.floor(offsets[-1] + _ON_GRID) + 1), offsets, np.arange(len(offsets)))
        values = lerp_at(values, pos)
        rotations = {k: slerp_at(v, pos) for k, v in rotations.items()}
        warnings.append(f"rows were not evenly spaced; resampled {len(offsets)} rows to {len(pos)} frames")
    meta: dict[str, Any] = {"source": "live_link_face_csv", "source_file": path.name}
    if len(rows):
        meta["timecode_start"] = rows[0][0].strip()
    if warnings:
        meta["warnings"] = warnings
    return Track(fps=rate, rig="arkit", channels=channels, values=values, rotations=rotations, meta=meta)


def write_arkit_csv(track: Track, path: str | Path) -> None:
    """Write an ARKit-channel track in the Live Link Face layout, timecodes starting at 00:00:00:00.

    Channels are matched to ARKit names case-insensitively; ARKit shapes the track lacks are written as 0,
    other channels are left out. Missing head/eye rotations are written as 0.
    """
    path = Path(path)
    index = {c.lower(): i for i, c in enumerate(track.channels)}
    if not any(name.lower() in index for name in ARKIT_CHANNELS):
        raise InputError(
            f"{path}: cannot write an ARKit CSV: the track (rig '{track.rig}') has no ARKit blendshape channels"
        )
    t = track.num_frames
    shapes = np.zeros((t, len(LIVE_LINK_FACE_ORDER)), dtype=np.float32)
    for j, name in enumerate(LIVE_LINK_FACE_ORDER):
        if name.lower() in index:
            shapes[:, j] = track.values[:, index[name.lower()]]
    angles = [
        _rotvec_to_euler(track.rotations[name]) if name in track.rotations else np.zeros((t, 3))
        for name in ROTATION_COLUMNS.values()
    ]
    table = np.concatenate([shapes.astype(np.float64), *angles], axis=1)
    rate = round(track.fps) if abs(track.fps - round(track.fps)) < 1e-9 else math.ceil(track.fps)
    count = str(len(HEADER) - 2)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for k in range(t):
            row = [_timecode(k * rate / track.fps, rate), count]
            writer.writerow(row + [f"{float(x):.9g}" for x in table[k]])


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            lines = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV text file ({exc})") from None
    if not lines or lines[0][0].strip() != "Timecode":
        raise InputError(f"{path}: not a Live Link Face CSV: the first column must be 'Timecode'")
    header = [cell.strip() for cell in lines[0]]
    for n, row in enumerate(lines[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: line {n} has {len(row)} fields, the header has {len(header)}")
    return header, lines[1:]


def _numbers(path: Path, rows: list[list[str]], cols: list[int]) -> np.ndarray:
    out = np.zeros((len(rows), len(cols)), dtype=np.float64)
    for r, row in enumerate(rows):
        try:
            out[r] = [float(row[c]) for c in cols]
        except ValueError:
            raise InputError(f"{path}: line {r + 2} has a field that is not a number") from None
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out))[0, 0])
        raise InputError(f"{path}: line {bad + 2} contains NaN or infinite values")
    return out


def _parse_timecode(path: Path, line: int, text: str) -> tuple[int, float]:
    """(whole seconds, frames within the second incl. sub-frame) of ``HH:MM:SS:FF[.fff]``."""
    m = _TIMECODE.match(text.strip())
    if not m:
        raise InputError(f"{path}: line {line}: timecode '{text}' is not HH:MM:SS:FF or HH:MM:SS:FF.fff")
    h, mi, s, ff, sub = m.groups()
    return (int(h) * 60 + int(mi)) * 60 + int(s), int(ff) + (float("0." + sub) if sub else 0.0)


def _timecodes(path: Path, rows: list[list[str]]) -> list[tuple[int, float]]:
    return [_parse_timecode(path, n, row[0]) for n, row in enumerate(rows, start=2)]


def _timecode_rate(path: Path, rows: list[list[str]], fps: float | None) -> tuple[float, bool]:
    """The timecode rate and whether it was assumed rather than told."""
    parsed = _timecodes(path, rows)
    top = max((int(ff) for _, ff in parsed), default=0)
    if fps is not None:
        if not (math.isfinite(fps) and fps > 0):
            raise InputError(f"{path}: the frame rate must be a positive number, got {fps}")
        if top >= fps:
            raise InputError(f"{path}: timecode frame {top} does not fit a rate of {fps:g} fps")
        return float(fps), False
    wrapped = any(b[0] > a[0] for a, b in itertools.pairwise(parsed))
    rate = next((r for r in STANDARD_RATES if r > top), top + 1)
    if not wrapped and rate < DEFAULT_RATE:
        return float(DEFAULT_RATE), True
    return float(rate), False


def _frame_positions(path: Path, rows: list[list[str]], rate: float) -> np.ndarray:
    """Each row's time in frames at ``rate``, continuous across midnight; must increase."""
    frames = np.array([s * rate + ff for s, ff in _timecodes(path, rows)], dtype=np.float64)
    day = _DAY_S * rate
    frames += np.concatenate([[0.0], np.cumsum(np.diff(frames) < -day / 2)]) * day
    back = np.flatnonzero(np.diff(frames) <= 0)
    if back.size:
        raise InputError(f"{path}: line {back[0] + 3}: the timecode does not advance past the line before")
    return frames


def _timecode(frames: float, rate: int) -> str:
    """``HH:MM:SS:FF.fff`` for a time given in frames at ``rate``."""
    total = round(frames * 1000) / 1000
    whole_s, frame = divmod(total, rate)
    s = int(whole_s)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{int(frame):02d}.{round(frame % 1 * 1000):03d}"


def _euler_to_rotvec(ypr: np.ndarray) -> np.ndarray:
    if len(ypr) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    return Rotation.from_euler(_EULER, ypr).as_rotvec().astype(np.float32)


def _rotvec_to_euler(rotvecs: np.ndarray) -> np.ndarray:
    if len(rotvecs) == 0:
        return np.zeros((0, 3))
    return Rotation.from_rotvec(rotvecs.astype(np.float64)).as_euler(_EULER)
