"""Caps on the arrays a file declares, checked before anything of that size is allocated.

A few hundred bytes of compressed zeros, a pickle that names a shape, or a ``.npy`` header can declare
gigabytes; every reader of arrays from files (tracks, track adapters, pickles) checks the declaration
here first, so that such a file is refused with a message instead of being decoded into memory.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from core.errors import InputError

MAX_ARRAY_BYTES = 64 * 2**20
"""Largest array a file may declare: an hour at 60 fps of 73 float32 channels is 63 MB."""
MAX_TEXT_BYTES = 64 * 2**20
"""Largest JSON text read as a track."""


def check_declared(shape: Sequence[int], dtype: Any, what: str, limit: int = MAX_ARRAY_BYTES) -> None:
    """Refuse an array of ``shape`` and ``dtype`` larger than ``limit`` bytes (or malformed)."""
    try:
        dims = [int(n) for n in shape]
        itemsize = np.dtype(dtype).itemsize
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{what}: not a valid array declaration ({exc})") from None
    if any(n < 0 for n in dims):
        raise InputError(f"{what}: declares a negative array size {tuple(dims)}")
    size = math.prod(dims) * max(itemsize, 1)
    if size > limit:
        raise InputError(
            f"{what}: declares a {'×'.join(map(str, dims))} array ({size / 2**20:,.0f} MB); "
            f"arrays over {limit // 2**20} MB are refused"
        )


def check_npy_header(fp: IO[bytes], what: str) -> None:
    """Check the ``.npy`` header at ``fp``'s position (which is then past the header)."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise InputError(f"{what}: not a readable .npy array ({exc})") from None
    check_declared(shape, dtype, what)


def check_npy_file(fp: IO[bytes], what: str) -> None:
    """Check a seekable ``.npy`` file's header and rewind it."""
    start = fp.tell()
    check_npy_header(fp, what)
    fp.seek(start)


def check_npz(fp: IO[bytes], what: str) -> None:
    """Check every array of a seekable ``.npz`` (zip) file, inflating only their headers; rewinds.

    A file that is not a zip archive raises :class:`zipfile.BadZipFile` for the caller to word.
    """
    start = fp.tell()
    try:
        with zipfile.ZipFile(fp) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    check_npy_header(member, f"{what}, array '{info.filename}'")
    finally:
        fp.seek(start)


_MAT_HEADER = 128
_MI_INT32, _MI_MATRIX, _MI_COMPRESSED = 5, 14, 15
_MAT_COMPLEX = 0x0800


def check_mat(data: bytes, what: str, limit: int = MAX_ARRAY_BYTES) -> None:
    """Check every variable of a MATLAB v5 ``.mat`` (its bytes) against ``limit``, inflating only headers.

    Compressed variables are where a small file declares a large array; scipy would inflate them whole
    even to list them. Complex variables are refused (no reader here takes them). Other versions pass.
    """
    if len(data) < _MAT_HEADER or data[124:126] not in (b"\x00\x01", b"\x01\x00"):
        return
    order = "<" if data[126:128] == b"IM" else ">"
    pos = _MAT_HEADER
    while pos + 8 <= len(data):
        kind, size, body = _mat_tag(data, pos, order)
        if kind == _MI_COMPRESSED:
            try:
                head = zlib.decompressobj().decompress(data[body : body + size], 4096)
            except zlib.error as exc:
                raise InputError(f"{what}: a compressed variable is corrupt ({exc})") from None
            _check_mat_matrix(head, 0, order, what, limit)
        elif kind == _MI_MATRIX:
            _check_mat_matrix(data, pos, order, what, limit)
        pos = body + size + (-size % 8 if kind != _MI_COMPRESSED else 0)


def _mat_tag(data: bytes, pos: int, order: str) -> tuple[int, int, int]:
    """(type, byte count, offset of the body) of the data element at ``pos``; small elements pack into 8 bytes."""
    kind, size = struct.unpack_from(order + "II", data, pos)
    if kind >> 16:
        return kind & 0xFFFF, kind >> 16, pos + 4
    return kind, size, pos + 8


def _check_mat_matrix(data: bytes, pos: int, order: str, what: str, limit: int) -> None:
    """Check the dimensions (and complex flag) of the miMATRIX element at ``pos``."""
    try:
        kind, _, body = _mat_tag(data, pos, order)
        if kind != _MI_MATRIX:
            return
        _, flags_size, flags_body = _mat_tag(data, body, order)
        flags = struct.unpack_from(order + "I", data, flags_body)[0]
        dims_kind, dims_size, dims_body = _mat_tag(data, flags_body + flags_size + (-flags_size % 8), order)
        if dims_kind != _MI_INT32:
            return
        dims = struct.unpack_from(f"{order}{dims_size // 4}i", data, dims_body)
    except struct.error:
        raise InputError(f"{what}: not a readable MATLAB .mat file (a variable's header is cut short)") from None
    if flags & _MAT_COMPLEX:
        raise InputError(f"{what}: holds complex numbers; save the coefficients as real numbers")
    check_declared(dims, np.float64, what, limit)
