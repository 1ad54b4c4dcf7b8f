"""Write a file whole or not at all: into a temporary file beside it, then renamed over it.

A write that fails half-way (full disk, Ctrl-C, a crash) leaves the existing file as it was and no
temporary file behind; the new file is flushed to disk before it takes the old one's place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.errors import InputError

PART = ".part"
"""What every temporary name holds (``.NAME.xxxxxxxx.part.SUFFIX``), for cleaning up after a killed run."""


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, for writers that go by it); on success it is
    flushed to disk and replaces ``path``, on any error it is removed and the error, an ``OSError`` too,
    goes on as it is (for callers with their own wording, such as the server's 507)."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{PART}{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """:func:`replacing` for files the user names.

    A missing folder, or a ``path`` that is a folder, is an :class:`InputError`; so is an ``OSError``
    from the writer, with its reason (``No space left on device``, ``Read-only file system``).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name to write")
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}")
    try:
        with replacing(path) as tmp:
            yield tmp
    except OSError as exc:
        raise InputError(f"could not write {path}: {exc.strerror or exc}") from None
