"""SadTalker's coefficient file: a MATLAB ``.mat`` with ``coeff_3dmm`` (T,70) at 25 fps.

Columns: 64 expression coefficients, 3 head angles and 3 translations in Deep3DFaceRecon's convention
(SadTalker's ``test_audio2coeff`` concatenates ExpNet's expression with PoseVAE's 6-dim pose).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import savemat

from core.adapters.bfm_pose import coeffs_to_track, track_to_coeffs
from core.errors import InputError
from core.matlab import load_mat
from core.resample import resample
from core.track import Track

FPS = 25.0
KEY = "coeff_3dmm"
WIDTH = 70


def read_sadtalker_mat(path: str | Path) -> Track:
    """Read ``coeff_3dmm`` of a SadTalker ``.mat`` as a ``bfm`` track at 25 fps."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    mat = load_mat(path, str(path))
    if KEY not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise InputError(f"{path}: has no '{KEY}' array (keys: {keys}); is it a SadTalker coefficient file?")
    arr = np.asarray(mat[KEY])
    if arr.ndim != 2 or arr.shape[1] != WIDTH or not np.issubdtype(arr.dtype, np.number):
        raise InputError(
            f"{path}: '{KEY}' must be a (T,{WIDTH}) number array (64 exp + 3 angles + 3 translation), "
            f"got {arr.dtype} {arr.shape}"
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: '{KEY}' contains NaN or infinite values")
    return coeffs_to_track(arr, FPS, {"source": "sadtalker", "source_file": path.name})


def write_sadtalker_mat(track: Track, path: str | Path) -> None:
    """Write a ``bfm`` track as ``coeff_3dmm`` (T,70) float32, resampled to 25 fps."""
    path = Path(path)
    track = resample(track, FPS)
    savemat(path, {KEY: track_to_coeffs(track, path)})
