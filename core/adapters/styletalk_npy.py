"""StyleTalk's renderer input: a (T,73) ``.npy`` at 30 fps.

Columns (StyleTalk ``inference_for_demo.py`` + ``core/utils.py: get_pose_params``): 64 expression
coefficients, 3 head angles (Deep3DFaceRecon ``coeff[:, 224:227]``), 3 translations (``coeff[:, 254:257]``)
and 3 crop values (the last three columns of Deep3DFaceRecon's ``transform_params``: scale, x and y of the
crop centre in pixels). The crop values travel as the extra channels ``crop_scale``, ``crop_x``, ``crop_y``
so that they survive resampling; a track without them is written with the crop of a 256×256 portrait that is
already aligned: scale 1, centre (128, 128).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.adapters.bfm_pose import coeffs_to_track, track_to_coeffs
from core.array_caps import check_npy_file
from core.errors import InputError
from core.resample import resample
from core.track import Track

FPS = 30.0
WIDTH = 73
CROP_CHANNELS: tuple[str, ...] = ("crop_scale", "crop_x", "crop_y")
DEFAULT_CROP: tuple[float, float, float] = (1.0, 128.0, 128.0)


def read_styletalk_npy(path: str | Path) -> Track:
    """Read a (T,73) StyleTalk coefficient file as a ``bfm`` track at 30 fps."""
    path = Path(path)
    try:
        with path.open("rb") as fp:
            check_npy_file(fp, path.name)
            arr = np.load(fp, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a numeric .npy array ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != WIDTH or not np.issubdtype(arr.dtype, np.number):
        raise InputError(
            f"{path}: a StyleTalk coefficient file is a (T,{WIDTH}) number array "
            f"(64 exp + 3 angles + 3 translation + 3 crop), got {arr.dtype} {arr.shape}"
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: contains NaN or infinite values")
    return styletalk_coeffs_to_track(arr, {"source": "styletalk", "source_file": path.name})


def styletalk_coeffs_to_track(coeffs: np.ndarray, meta: dict) -> Track:
    """(T,73) coefficients (64 exp, 3 angles, 3 translation, 3 crop) as a ``bfm`` track at 30 fps."""
    base = coeffs_to_track(coeffs, FPS, meta)
    return Track(
        fps=base.fps,
        rig=base.rig,
        channels=[*base.channels, *CROP_CHANNELS],
        values=np.concatenate([base.values, coeffs[:, 70:73]], axis=1),
        rotations=base.rotations,
        translation=base.translation,
        meta=base.meta,
    )


def write_styletalk_npy(track: Track, path: str | Path) -> None:
    """Write a ``bfm`` track as a (T,73) float32 StyleTalk ``.npy``, resampled to 30 fps."""
    path = Path(path)
    track = resample(track, FPS)
    coeffs = track_to_coeffs(track, path)
    if all(c in track.channels for c in CROP_CHANNELS):
        crop = track.values[:, [track.channels.index(c) for c in CROP_CHANNELS]]
    else:
        crop = np.tile(np.asarray(DEFAULT_CROP, dtype=np.float32), (track.num_frames, 1))
    np.save(path, np.concatenate([coeffs, crop], axis=1).astype(np.float32), allow_pickle=False)
