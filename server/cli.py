"""The `mouthpiece` command line: the one composition root (DESIGN §1, §7)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import MouthpieceError

COMMANDS: dict[str, str] = {
    "serve": "server.commands.serve",
    "animate": "server.commands.animate",
    "blend": "server.commands.blend",
    "render-video": "server.commands.render_video",
    "models": "server.commands.models",
    "import-flame": "server.commands.import_flame",
    "rig": "server.commands.rig",
    "bench": "server.commands.bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mouthpiece", description="Speech-driven 3D face animation for Blender."
    )
    parser.add_argument("--version", action="version", version=f"mouthpiece {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except MouthpieceError as exc:
        print(f"mouthpiece {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mouthpiece {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
