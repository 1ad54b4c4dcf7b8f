"""The batch driver: plans the lines, feeds an executor, writes every file and the report.

Per line the driver builds `animate`'s arguments (the batch's defaults, overridden by the manifest), checks
them by building the pipeline's request as `animate` does, hashes the audio and the parameters, and skips
the line when its files were made from the same key. Workers get bytes and the request and send back
tracks; only the driver writes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.batch.line import LineOutcome, LineTask
from core import __version__
from core.batch.manifest import ManifestLine
from core.batch.outputs import forget, is_done, line_key, mark_done, remove_partial_files, write_outputs
from core.errors import MouthpieceError
from core.pipeline import AnimateRequest

REPORT = "report.jsonl"
LINE_ARGUMENTS: tuple[str, ...] = (
    "engine",
    "transcript",
    "transcript_file",
    "emotion",
    "intensity",
    "seed",
    "style",
    "identity",
    "fps",
    "rig",
    "no_blinks",
    "head_motion",
    "pose_style",
    "no_eye_motion",
    "loudness",
    "model_dir",
    "checkpoint",
    "model_config",
    "device",
)
"""The `animate` arguments a line runs with (all but ``device`` are part of its key)."""

Executor = Callable[[Iterable[LineTask]], Generator[LineOutcome, None, None]]
"""tasks → outcomes as lines finish (closing the generator stops the workers)"""


@dataclass(frozen=True)
class PlannedLine:
    line: ManifestLine
    args: argparse.Namespace
    request: AnimateRequest
    key: str


@dataclass
class Plan:
    """What a run will do: lines to animate, lines already done, lines that fail before any engine runs."""

    todo: list[PlannedLine] = field(default_factory=list)
    skipped: list[ManifestLine] = field(default_factory=list)
    failed: list[tuple[ManifestLine, str]] = field(default_factory=list)


@dataclass
class Summary:
    """What a run did."""

    done: int = 0
    skipped: int = 0
    failures: list[tuple[ManifestLine, str]] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    interrupted: bool = False

    @property
    def lines_per_minute(self) -> float:
        return 60.0 * self.done / self.wall_s if self.wall_s > 0 else 0.0


def line_args(defaults: argparse.Namespace, line: ManifestLine) -> argparse.Namespace:
    """`animate`'s arguments for ``line``: the batch's defaults with the manifest's settings on top."""
    args = argparse.Namespace(**{name: getattr(defaults, name, None) for name in LINE_ARGUMENTS})
    for name, value in line.settings.items():
        setattr(args, name, value)
    if "transcript" in line.settings:
        args.transcript_file = None
    if line.transcript_file is not None:
        args.transcript, args.transcript_file = None, line.transcript_file
    return args


def plan(
    lines: list[ManifestLine], outdir: Path, defaults: argparse.Namespace, formats: list[str], force: bool
) -> Plan:
    """Check every line and decide which to run (all of them with ``force``)."""
    result = Plan()
    for line in lines:
        try:
            planned = _plan_line(line, defaults, formats)
        except MouthpieceError as exc:
            result.failed.append((line, str(exc)))
            continue
        if not force and is_done(outdir, line.id, planned.key):
            result.skipped.append(line)
        else:
            result.todo.append(planned)
    return result


def _plan_line(line: ManifestLine, defaults: argparse.Namespace, formats: list[str]) -> PlannedLine:
    args = line_args(defaults, line)
    request = AnimateRequest.from_args(args)
    args.transcript, args.transcript_file = request.transcript, None  # the key holds the text, not the file
    params = {name: getattr(args, name) for name in LINE_ARGUMENTS if name != "device"}
    params.update(formats=formats, version=__version__)
    return PlannedLine(line, args, request, line_key(_read_audio(line), params))


def _read_audio(line: ManifestLine) -> bytes:
    from core.errors import InputError

    try:
        return line.audio.read_bytes()
    except FileNotFoundError:
        raise InputError(f"audio file not found: {line.audio}") from None
    except OSError as exc:
        raise InputError(f"cannot read the audio file {line.audio}: {exc.strerror}") from None


def run(
    batch: Plan,
    outdir: Path,
    formats: list[str],
    execute: Executor,
    on_line: Callable[[str], None] = lambda status: None,
) -> Summary:
    """Run ``batch`` through ``execute``, writing files, ``OUTDIR/report.jsonl`` and calling ``on_line(status)``.

    Ctrl-C (KeyboardInterrupt) stops the run: the lines in flight are lost, everything finished is kept, and
    the summary says it was interrupted.
    """
    start = time.perf_counter()
    summary = Summary()
    remove_partial_files(outdir)
    planned = {p.line.id: p for p in batch.todo}
    with (outdir / REPORT).open("w", encoding="utf-8") as report:

        def record(line: ManifestLine, status: str, **fields: Any) -> None:
            report.write(
                json.dumps({"line": line.number, "id": line.id, "audio": str(line.audio), "status": status, **fields})
                + "\n"
            )
            report.flush()

        for line in batch.skipped:
            record(line, "skipped")
        summary.skipped = len(batch.skipped)
        for line, error in batch.failed:
            record(line, "failed", error=error)
            summary.failures.append((line, error))
        tasks = _tasks(batch.todo, summary, record, on_line)
        try:
            with closing(execute(tasks)) as outcomes:
                for outcome in outcomes:
                    on_line(_finish(planned[outcome.id], outcome, outdir, formats, summary, record))
        except KeyboardInterrupt:
            summary.interrupted = True
    summary.wall_s = time.perf_counter() - start
    return summary


def _tasks(
    todo: list[PlannedLine], summary: Summary, record: Callable[..., None], on_line: Callable[[str], None]
) -> Iterator[LineTask]:
    """The lines' tasks, each reading its audio when an executor asks for it."""
    for index, p in enumerate(todo):
        try:
            audio = _read_audio(p.line)
        except MouthpieceError as exc:
            record(p.line, "failed", error=str(exc))
            summary.failures.append((p.line, str(exc)))
            on_line("failed")
            continue
        yield LineTask(index, p.line.id, audio, p.line.audio.name, p.args, p.request)


def _finish(
    p: PlannedLine,
    outcome: LineOutcome,
    outdir: Path,
    formats: list[str],
    summary: Summary,
    record: Callable[..., None],
) -> str:
    """Write a finished line's files and its report row; returns its status (done or failed)."""
    if outcome.track is None:
        error = outcome.error or "no track"
        record(p.line, "failed", error=error, wall_s=round(outcome.wall_s, 3))
        summary.failures.append((p.line, error))
        return "failed"
    track = outcome.track
    try:
        forget(outdir, p.line.id)
        files, skipped_formats = write_outputs(track, outdir, p.line.id, formats)
        mark_done(outdir, p.line.id, p.key, files)
    except (OSError, MouthpieceError) as exc:
        error = f"cannot write the track files: {exc}"
        record(p.line, "failed", error=error, wall_s=round(outcome.wall_s, 3))
        summary.failures.append((p.line, error))
        return "failed"
    summary.done += 1
    summary.audio_s += track.duration
    record(
        p.line,
        "done",
        warnings=list(track.meta.get("warnings", [])) + skipped_formats,
        duration_s=round(track.duration, 3),
        frames=track.num_frames,
        fps=track.fps,
        wall_s=round(outcome.wall_s, 3),
        files=[f.name for f in files],
    )
    return "done"
