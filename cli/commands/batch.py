"""`mouthpiece batch`: animate every line of a manifest, on local processes or a Ray cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Generator, Iterable
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

from cli.commands.animate import add_engine_arguments

HELP = (
    "animate every line of a CSV/JSONL manifest into OUTDIR (resumable; a failing line is reported and skipped); "
    "the exit status is the number of failed lines"
)
MAX_EXIT_FAILURES = 125
SHOWN_FAILURES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", type=Path, help="CSV or JSON Lines with an audio column (README: Batch)")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, help="folder for the tracks and report.jsonl")
    add_engine_arguments(parser)
    parser.add_argument("--fps", help="frame rate of the tracks (default: each engine's native rate)")
    parser.add_argument("--rig", help="rig of the tracks (default: the engine's own)")
    parser.add_argument("--model-dir", type=Path, help="folder with the engine's weights")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file of the engine")
    parser.add_argument("--model-config", help="model configuration file of the engine")
    parser.add_argument(
        "--formats", default="npz", help="comma-separated: npz, json, csv (Live Link Face); default: npz"
    )
    parser.add_argument(
        "--workers", type=_positive_int, help="worker processes or Ray actors (default: the cores, or the cluster's)"
    )
    parser.add_argument("--threads", type=_positive_int, help="torch threads per worker (default: cores / workers)")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray: alone, a Ray instance on this machine; 'auto' or ray://host:10001 for a cluster",
    )
    parser.add_argument("--force", action="store_true", help="redo lines whose files are already up to date")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got '{text}'")
    return value


def run(args: argparse.Namespace) -> int:
    summary = run_batch(args, lambda total: _Progress(total, quiet=args.quiet))
    if not args.quiet:
        _print_summary(summary, args.output_dir)
    if summary.interrupted:
        print(
            f"mouthpiece batch: interrupted after {summary.done} new lines; run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    return min(len(summary.failures), MAX_EXIT_FAILURES)


def run_batch(args: argparse.Namespace, progress: Callable[[int], ContextManager[Callable[[str], None]]]) -> Any:
    """Run the batch the command's ``args`` describe; ``progress(lines to run)`` gives the per-line callback.

    Returns the :class:`cli.batch.driver.Summary`.
    """
    from cli.batch import driver
    from core.batch.manifest import read_manifest
    from core.batch.outputs import parse_formats
    from core.errors import InputError
    from core.pipeline import AnimateRequest, check_head_motion

    lines = read_manifest(args.manifest)
    formats = parse_formats(args.formats)
    check_head_motion(AnimateRequest.from_args(args))  # the batch's defaults are checked once, before any line
    outdir: Path = args.output_dir
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"the output folder is a file: {outdir}")
    outdir.mkdir(parents=True, exist_ok=True)
    batch = driver.plan(lines, outdir, args, formats, args.force)
    execute, close = _executor(args, batch)
    try:
        with progress(len(batch.todo)) as on_line:
            return driver.run(batch, outdir, formats, execute, on_line)
    finally:
        close()


def _executor(args: argparse.Namespace, batch: Any) -> tuple[Any, Any]:
    """(execute: tasks → outcomes, on the local process pool or on Ray; close: call when done)."""
    from cli.batch import local

    if args.ray is None:
        workers = max(1, min(args.workers or local.cores(), len(batch.todo)))  # no idle workers for a short batch
        threads = args.threads or local.threads_per_worker(workers)
        return (lambda tasks: local.run_local(tasks, workers, threads)), lambda: None
    from cli.batch import cluster

    if not batch.todo:  # nothing to run: no need to reach the cluster
        return (lambda tasks: (_ for _ in ())), lambda: None
    ray, started = cluster.connect(args.ray)
    threads = args.threads or (local.threads_per_worker(args.workers) if args.workers and args.ray == "local" else 1)
    torch_engines = any(p.args.engine != "builtin" for p in batch.todo)
    gpus = 1.0 if torch_engines and args.device != "cpu" and ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    actors = min(cluster.pool_size(ray, args.workers, threads, gpus), len(batch.todo))

    def execute(tasks: Iterable[Any]) -> Generator[Any, None, None]:
        return cluster.run_ray(ray, tasks, actors, threads, gpus)

    return execute, (ray.shutdown if started else lambda: None)


class _Progress:
    """A progress bar over lines (with lines/min and time left) on a terminal; ``on_line(status)`` advances it."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.bar: Any = None
        if not quiet and total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("animating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[failed]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
        self.failed = 0

    def __enter__(self) -> Any:
        if self.bar is None:
            return lambda status: None
        self.bar.start()
        task = self.bar.add_task("lines", total=self.total, rate="", failed="")

        def on_line(status: str) -> None:
            self.failed += status == "failed"
            self.bar.advance(task)
            speed = self.bar.tasks[0].speed
            self.bar.update(
                task,
                rate=f"{60 * speed:.1f} lines/min" if speed else "",
                failed=f"{self.failed} failed" if self.failed else "",
            )

        return on_line

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_summary(summary: Any, outdir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="batch", show_header=False)
    table.add_row("animated", str(summary.done))
    table.add_row("already up to date", str(summary.skipped))
    table.add_row("failed", str(len(summary.failures)))
    table.add_row("audio animated", f"{summary.audio_s:.1f} s")
    table.add_row("wall time", f"{summary.wall_s:.1f} s")
    table.add_row("lines per minute", f"{summary.lines_per_minute:.1f}")
    console.print(table)
    if summary.failures:
        failed = Table("line", "id", "error", title="failed lines")
        for line, error in summary.failures[:SHOWN_FAILURES]:
            failed.add_row(str(line.number), line.id, error)
        console.print(failed)
        more = len(summary.failures) - SHOWN_FAILURES
        if more > 0:
            console.print(f"... and {more} more")
    console.print(f"report: {outdir / 'report.jsonl'}")
