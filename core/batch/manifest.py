"""The batch manifest: one dialogue line per CSV row or JSON Lines object.

Columns: ``audio`` (required), ``transcript`` or ``transcript_file``, ``emotion``, ``intensity``, ``engine``,
``style``, ``identity``, ``seed``, ``fps``, ``rig`` and ``id`` (the output name; by default the audio's stem).
Paths are relative to the manifest's folder. Empty cells (CSV) and ``null`` (JSON) mean "not given": the
batch's defaults apply. A manifest with an unknown column, a missing audio or two lines writing the same
output is refused as a whole, naming the line; values are checked per line when the line runs.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InputError

COLUMNS: tuple[str, ...] = (
    "id",
    "audio",
    "transcript",
    "transcript_file",
    "emotion",
    "intensity",
    "engine",
    "style",
    "identity",
    "seed",
    "fps",
    "rig",
)
SETTINGS: tuple[str, ...] = ("transcript", "emotion", "intensity", "engine", "style", "identity", "seed", "fps", "rig")
"""Columns that override the batch's defaults for one line."""

SUFFIXES: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_UNSAFE_ID = re.compile(r"[\\/\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ManifestLine:
    """One dialogue line: where it is in the manifest, its output name, its files and its settings."""

    number: int
    """line number in the manifest file (1 is a CSV's header)"""
    id: str
    audio: Path
    transcript_file: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)
    """the :data:`SETTINGS` this line gives, as text"""


def read_manifest(path: str | Path) -> list[ManifestLine]:
    """Parse a ``.csv`` or ``.jsonl`` manifest; raises :class:`InputError` naming the file and line."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path.name}: a manifest is a .csv or .jsonl file (JSON Lines), not '{path.suffix}'")
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: the manifest must be UTF-8 text") from None
    rows = _csv_rows(path, text) if kind == "csv" else _jsonl_rows(path, text)
    lines: list[ManifestLine] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        line = _line(path, number, row)
        if line.id.lower() in seen:
            raise InputError(
                f"{path.name}: line {number}: id '{line.id}' is also line {seen[line.id.lower()]}'s "
                "(both would write the same files); give one of them another id"
            )
        seen[line.id.lower()] = number
        lines.append(line)
    if not lines:
        raise InputError(f"{path.name}: the manifest has no lines")
    return lines


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise InputError(f"{path.name}: line 1: not a readable CSV header ({exc})") from None
    if not any(header):
        raise InputError(f"{path.name}: line 1 must name the columns, e.g. 'audio,transcript,emotion'")
    for name in header:
        _check_column(path, 1, name)
    if len(set(header)) != len(header):
        twice = sorted({n for n in header if header.count(n) > 1})
        raise InputError(f"{path.name}: line 1: column '{twice[0]}' appears twice")
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise InputError(
                    f"{path.name}: line {reader.line_num} has {len(row)} fields, the header names {len(header)}"
                )
            yield reader.line_num, {name: cell.strip() for name, cell in zip(header, row, strict=False) if cell.strip()}
    except csv.Error as exc:
        raise InputError(f"{path.name}: line {reader.line_num}: not readable CSV ({exc})") from None


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name}: line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(f'{path.name}: line {number}: each line must be a JSON object like {{"audio": ...}}')
        row: dict[str, str] = {}
        for name, value in obj.items():
            _check_column(path, number, name)
            text_value = _json_text(path, number, name, value)
            if text_value:
                row[name] = text_value
        yield number, row


def _json_text(path: Path, number: int, name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{path.name}: line {number}: '{name}' must be a string or a number, not {value!r}")
    return str(value).strip()


def _check_column(path: Path, number: int, name: str) -> None:
    if name not in COLUMNS:
        raise InputError(f"{path.name}: line {number}: unknown column '{name}'; the columns are: {', '.join(COLUMNS)}")


def _line(path: Path, number: int, row: dict[str, str]) -> ManifestLine:
    where = f"{path.name}: line {number}"
    if "audio" not in row:
        raise InputError(f"{where}: no audio file (the 'audio' column is required on every line)")
    if "transcript" in row and "transcript_file" in row:
        raise InputError(f"{where}: give a transcript or a transcript_file, not both")
    folder = path.resolve().parent
    audio = folder / row["audio"]
    line_id = row.get("id", audio.stem)
    if _UNSAFE_ID.search(line_id) or line_id.startswith(".") or not line_id.strip():
        raise InputError(
            f"{where}: id '{line_id}' cannot be a file name (no slashes, no leading dot); "
            "give the line an 'id' such as 'intro_01'"
        )
    transcript_file = folder / row["transcript_file"] if "transcript_file" in row else None
    settings = {name: row[name] for name in SETTINGS if name in row}
    return ManifestLine(number, line_id, audio, transcript_file, settings)
