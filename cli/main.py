"""The `mouthpiece` command line: the one composition root (DESIGN §1, §7).

Only the chosen subcommand's module is imported, so `mouthpiece animate --engine builtin` never pays
for torch, bpy or FastAPI.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import MouthpieceError

# name → (module, one-line help shown in `mouthpiece --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("cli.commands.serve", "run the local inference server"),
    "animate": ("cli.commands.animate", "audio → animation track (.npz/.json), no server needed"),
    "batch": ("cli.commands.batch", "animate every line of a CSV/JSONL manifest, locally or on a Ray cluster"),
    "blend": ("cli.commands.blend", "audio → animated head in a .blend (+ preview video)"),
    "render-video": (
        "cli.commands.render_video",
        "render a talking-portrait video (PIRenderer) from a bfm track, a portrait and audio",
    ),
    "models": ("cli.commands.models", "list engines and licensed assets, and where missing ones go"),
    "import-flame": ("cli.commands.import_flame", "convert a FLAME .pkl into Mouthpiece's rig file"),
    "rig": ("cli.commands.rig", "write a rig as .npz or .glb"),
    "bench": ("cli.commands.bench", "measure speed and quality"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to add its arguments."""
    parser = argparse.ArgumentParser(prog="mouthpiece", description="Speech-driven 3D face animation for Blender.")
    parser.add_argument("--version", action="version", version=f"mouthpiece {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            p.description = module.HELP
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
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
        print(f"mouthpiece {args.command}: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
