"""`mouthpiece models`: which engines are ready, which licensed assets are present, where to put the rest."""

from __future__ import annotations

import argparse
import importlib.util

HELP = "list the engines and licensed face models, whether they are present, and where to put missing ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def engine_rows() -> list[tuple[str, str, str]]:
    """(engine, status, details) for every registered engine."""
    from core.engines import ENGINES, get_engine
    from core.errors import MouthpieceError
    from core.model_files import weight_layout

    rows = []
    for name, target in ENGINES.items():
        where = weight_layout(name)
        if importlib.util.find_spec(target.partition(":")[0]) is None:
            rows.append((name, "not installed in this version", f"weights go in: {where}"))
            continue
        try:
            ready, message = get_engine(name).status()
        except MouthpieceError as exc:
            ready, message = False, str(exc)
        except Exception as exc:  # a broken engine must not hide the others from this overview
            rows.append((name, "error", f"could not check ({type(exc).__name__}: {exc}); weights go in: {where}"))
            continue
        rows.append((name, "ready" if ready else "missing weights", message))
    return rows


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from core.paths import models_dir
    from core.rigs import rig_status

    console = Console(highlight=False)
    console.print(f"Models folder: {models_dir()}  (set MOUTHPIECE_MODELS to use another)", soft_wrap=True)
    engines = Table(title="Engines", show_lines=True)
    for col in ("engine", "status", "details"):
        engines.add_column(col, overflow="fold")
    for row in engine_rows():
        engines.add_row(*row)
    console.print(engines)
    rigs = Table(title="Face rigs (licensed files are never shipped)", show_lines=True)
    for col in ("rig", "status", "file", "details"):
        rigs.add_column(col, overflow="fold")
    for s in rig_status():
        rigs.add_row(s.name, "present" if s.ready else "missing", s.path, s.message)
    console.print(rigs)
    return 0
