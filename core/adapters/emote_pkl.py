"""EMOTE's per-clip FLAME parameters: a pickled dict of numpy arrays at 25 fps.

Keys: ``expression`` (T,50) or (T,100), ``jaw_pose`` (T,3) and ``global_pose`` (T,3) axis-angle, and
``shape`` (T or 1, S) identity. A leading batch axis of size 1 is accepted. The track has channels
``exp000``.. (50 or 100), rotations ``jaw`` and ``head`` (from ``global_pose``), and the identity as
``meta["flame_shape"]`` (one row; a per-frame shape that varies keeps its first row, with a warning).
Pickles are read only through :func:`core.safe_pickle.safe_load` (numpy arrays and nothing else).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.resample import resample
from core.safe_pickle import capped_bytes, safe_load
from core.track import Track

FPS = 25.0
EXPRESSION_SIZES = (50, 100)
REQUIRED = ("expression", "jaw_pose", "global_pose")


def read_emote_pkl(path: str | Path) -> Track:
    """Read an EMOTE FLAME ``.pkl`` as a ``flame`` track at 25 fps."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = safe_load(f, {("builtins", "bytes"): capped_bytes})  # empty arrays in protocol 2
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: an EMOTE FLAME pickle holds a dict, this one holds {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise InputError(f"{path}: missing {missing} (keys: {sorted(map(str, data))})")
    exp = _array(path, data, "expression")
    if exp.ndim != 2 or exp.shape[1] not in EXPRESSION_SIZES:
        raise InputError(f"{path}: 'expression' must be (T,50) or (T,100), got {exp.shape}")
    t = exp.shape[0]
    rotations = {}
    for key, name in (("jaw_pose", "jaw"), ("global_pose", "head")):
        rot = _array(path, data, key)
        if rot.shape != (t, 3):
            raise InputError(f"{path}: '{key}' must be ({t},3) like 'expression', got {rot.shape}")
        rotations[name] = rot
    meta: dict[str, Any] = {"source": "emote", "source_file": path.name}
    if "shape" in data:
        shape = _array(path, data, "shape")
        shape = shape.reshape(1, -1) if shape.ndim == 1 else shape
        if shape.ndim != 2 or shape.shape[0] not in (1, t):
            raise InputError(f"{path}: 'shape' must be (1,S) or ({t},S), got {shape.shape}")
        if shape.shape[0] > 1 and not np.array_equal(shape, np.broadcast_to(shape[:1], shape.shape)):
            meta["warnings"] = ["the identity 'shape' varies per frame; kept the first frame's"]
        meta["flame_shape"] = shape[0].astype(float).tolist()
    return Track(
        fps=FPS,
        rig="flame",
        channels=[f"exp{i:03d}" for i in range(exp.shape[1])],
        values=exp,
        rotations=rotations,
        meta=meta,
    )


def write_emote_pkl(track: Track, path: str | Path) -> None:
    """Write a ``flame`` track as EMOTE's FLAME dict of float32 arrays, resampled to 25 fps.

    ``expression`` has 100 columns if the track has any of ``exp050``..``exp099``, else 50; channels the
    track lacks are 0. Missing jaw/head rotations are 0; ``shape`` is ``meta["flame_shape"]`` as (1,S)
    or, without it, 300 zeros (FLAME 2020's identity size).
    """
    path = Path(path)
    index = {c: i for i, c in enumerate(track.channels)}
    if not any(f"exp{i:03d}" in index for i in range(100)):
        raise InputError(
            f"{path}: cannot write an EMOTE pickle: the track (rig '{track.rig}') has no FLAME expression "
            "channels exp000..exp099"
        )
    track = resample(track, FPS)
    t = track.num_frames
    size = 100 if any(f"exp{i:03d}" in index for i in range(50, 100)) else 50
    exp = np.zeros((t, size), dtype=np.float32)
    for i in range(size):
        if f"exp{i:03d}" in index:
            exp[:, i] = track.values[:, index[f"exp{i:03d}"]]
    zeros = np.zeros((t, 3), dtype=np.float32)
    shape = np.asarray(track.meta.get("flame_shape", np.zeros(300)), dtype=np.float32).reshape(1, -1)
    data = {
        "expression": exp,
        "jaw_pose": track.rotations.get("jaw", zeros),
        "global_pose": track.rotations.get("head", zeros),
        "shape": shape,
    }
    with path.open("wb") as f:  # protocol 4 rebuilds arrays with numpy's _reconstruct, as readers expect
        pickle.dump(data, f, protocol=4)


def _array(path: Path, data: dict, key: str) -> np.ndarray:
    value = data[key]
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number):
        raise InputError(f"{path}: '{key}' must be a numeric numpy array, got {type(value).__name__}")
    arr = value.astype(np.float32)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: '{key}' contains NaN or infinite values")
    return arr
