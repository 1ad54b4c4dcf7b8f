"""A batch folder: each line's track files, written atomically, and what they were made from.

Every file is written under a hidden temporary name and renamed into place, so a crash or Ctrl-C leaves
either the old file, the new one, or nothing, never half a file. ``.mouthpiece-batch/ID.json`` records the
line's key (a hash of its audio and parameters) once all its files are in place; a rerun skips a line whose
key matches and whose files are all there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.adapters import export_track
from core.atomic import PART, atomic_path
from core.errors import InputError
from core.track import Track

FORMATS: dict[str, tuple[str, str]] = {
    "npz": (".npz", "track"),
    "json": (".json", "track"),
    "csv": (".csv", "arkit"),
}
"""format name → (file suffix, adapter kind in core.adapters); csv is the Live Link Face layout."""

STATE_DIR = ".mouthpiece-batch"


def parse_formats(text: str) -> list[str]:
    """``"npz,json,csv"`` → the format names, in that order, each once."""
    names = [name.strip().lower().lstrip(".") for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise InputError(
            f"unknown output format '{unknown[0] if unknown else text}'; choose from: {', '.join(FORMATS)}"
            " (comma-separated, e.g. npz,csv)"
        )
    return list(dict.fromkeys(names))


def line_key(audio: bytes, params: dict[str, Any]) -> str:
    """The hash of a line's audio bytes and its parameters (any JSON-able dict)."""
    digest = hashlib.sha256(audio).hexdigest()
    blob = json.dumps({"audio": digest, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def is_done(outdir: Path, line_id: str, key: str) -> bool:
    """Whether ``line_id``'s files were made from ``key`` and are all still there."""
    state = _read_state(outdir, line_id)
    return (
        state is not None
        and state.get("key") == key
        and all((outdir / name).is_file() for name in state.get("files", []))
    )


def write_outputs(track: Track, outdir: Path, line_id: str, formats: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Write ``track`` as ``OUTDIR/ID.<suffix>`` in each format: (files written, warnings for formats skipped)."""
    written: list[Path] = []
    warnings: list[str] = []
    for name in formats:
        suffix, kind = FORMATS[name]
        if kind == "arkit" and track.rig != "arkit":
            warnings.append(
                f"no {name} file: Live Link Face CSV holds ARKit shapes; this take is on the {track.rig} rig"
            )
            continue
        path = outdir / f"{line_id}{suffix}"
        export_track(track, path, kind=kind)  # whole or not at all
        written.append(path)
    return written, warnings


def mark_done(outdir: Path, line_id: str, key: str, files: Iterable[Path]) -> None:
    """Record that ``line_id``'s ``files`` were made from ``key`` (after they are all in place)."""
    state = {"key": key, "files": [p.name for p in files]}
    folder = outdir / STATE_DIR
    folder.mkdir(exist_ok=True)
    with atomic_path(folder / f"{line_id}.json") as tmp:
        tmp.write_text(json.dumps(state))


def forget(outdir: Path, line_id: str) -> None:
    """Drop ``line_id``'s record (before its files are rewritten), so a crash midway redoes the line."""
    (outdir / STATE_DIR / f"{line_id}.json").unlink(missing_ok=True)


def remove_partial_files(outdir: Path) -> int:
    """Delete temporary files a killed run left behind; returns how many."""
    leftovers = [p for folder in (outdir, outdir / STATE_DIR) for p in folder.glob(f".*{PART}.*")]
    for p in leftovers:
        p.unlink(missing_ok=True)
    return len(leftovers)


def _read_state(outdir: Path, line_id: str) -> dict[str, Any] | None:
    try:
        state = json.loads((outdir / STATE_DIR / f"{line_id}.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None
