"""The per-rig correspondence, computed once and kept under ``<home>/cache/retarget/``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from core.paths import home_dir
from core.retarget.landmarks import ibug68
from core.retarget.register import Correspondence, register
from core.rig import FaceRig

ALGORITHM_VERSION = 1
"""Bump when the registration changes, so that stale correspondences are recomputed."""


def cache_dir() -> Path:
    return home_dir() / "cache" / "retarget"


def rig_key(rig: FaceRig) -> str:
    """A digest of what the registration reads: the neutral mesh, its faces and its 68 landmarks."""
    h = hashlib.sha256(f"{rig.name}/{ALGORITHM_VERSION}".encode())
    for arr in (rig.vertices, rig.faces, ibug68(rig)):
        a = np.ascontiguousarray(arr)
        h.update(str(a.shape).encode() + a.tobytes())
    if rig.vertex_parts is not None:
        h.update(np.ascontiguousarray(rig.vertex_parts).tobytes())
    return h.hexdigest()[:20]


def motion_key(rig: FaceRig) -> str:
    """A digest of what the per-take work reads besides the mesh: channels, basis, joints, correctives."""
    h = hashlib.sha256("\n".join(rig.channels).encode())
    for arr in (rig.basis, rig.skin_weights, rig.joint_positions, rig.pose_correctives):
        if arr is not None:
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:20]


def pair_key(source: FaceRig, target: FaceRig) -> str:
    return f"{source.name}-{rig_key(source)}-to-{target.name}-{rig_key(target)}"


def correspondence(source: FaceRig, target: FaceRig) -> Correspondence:
    """The cached correspondence of ``source`` onto ``target``, registering on first use."""
    path = cache_dir() / f"{pair_key(source, target)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                stats = json.loads(str(z["stats"]))
                return Correspondence.from_arrays(z, {**stats, "cached": True})
        except (OSError, ValueError, KeyError):
            pass  # unreadable: register again and overwrite
    corr = register(source, target)
    with contextlib.suppress(OSError):  # a read-only home only costs the registration next time
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, stats=np.array(json.dumps(corr.stats)), **corr.arrays())
        os.replace(tmp, path)
    corr.stats["cached"] = False
    return corr
