"""Reading MATLAB ``.mat`` files (v4 to v7) with every failure as one line a user can act on.

MATLAB v7.3 files are HDF5 inside, which scipy cannot read: they are refused with how to save them
again. Declared arrays are capped before anything is inflated (:func:`core.array_caps.check_mat`),
truncated or corrupt files and complex values are refused.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from core.array_caps import MAX_ARRAY_BYTES, check_mat
from core.errors import InputError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HEADER = 128
_USER_BLOCK = 512
"""A v7.3 file is an HDF5 file behind MATLAB's 512-byte user block (its 128-byte header first)."""
READ_ERRORS = (
    MatReadError,
    OSError,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    zlib.error,
)
"""What scipy raises on truncated or corrupt files (found by cutting and flipping bytes of good ones)."""


def load_mat(path: str | Path, what: str, limit: int = MAX_ARRAY_BYTES) -> dict[str, Any]:
    """The variables of the ``.mat`` file at ``path`` (``what`` names it in messages).

    Raises :class:`InputError` for a missing, v7.3/HDF5, truncated or corrupt file, one declaring an
    array over ``limit`` bytes, or one holding complex numbers.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{what}: cannot be read ({exc.strerror or exc})") from None
    if is_hdf5_mat(data):
        raise InputError(
            f"{what} is a MATLAB v7.3 (HDF5) file, which cannot be read here; save it again as v7 "
            "in MATLAB or Octave: save(FILE, VARIABLES..., '-v7')"
        )
    check_mat(data, what, limit)
    try:
        mat: dict[str, Any] = scipy.io.loadmat(io.BytesIO(data))
    except READ_ERRORS as exc:
        raise InputError(f"{what}: not a MATLAB .mat file, or a corrupt or cut-short one ({exc})") from None
    for key, value in mat.items():
        if not key.startswith("__") and np.iscomplexobj(value):
            raise InputError(f"{what}: '{key}' holds complex numbers; save the coefficients as real numbers")
    return mat


def is_hdf5_mat(data: bytes) -> bool:
    """Whether ``data`` is a MATLAB v7.3 file (or a bare HDF5 file)."""
    if HDF5_SIGNATURE in (data[:8], data[_USER_BLOCK : _USER_BLOCK + 8]):
        return True
    if len(data) < _HEADER or 0 in data[:4]:  # a zero in the first 4 bytes: a v4 file, as scipy tells
        return False
    major = data[125] if data[126] == ord("I") else data[124]  # the version's high byte, as scipy reads it
    return major == 2
