"""`mouthpiece bench NAME`: run one of the measurement benches (bench/, bench/server.py)."""

from __future__ import annotations

import argparse
import importlib

HELP = "measure engines and front ends against reference data (e.g. `mouthpiece bench lipsync`)"

BENCHES: dict[str, str] = {
    "lipsync": "bench.lipsync:main",
    "phonemes": "bench.phonemes:main",
    "closures": "bench.closures:main",
    "emote": "bench.emote:main",
    "styletalk": "bench.styletalk:main",
    "sadtalker": "bench.sadtalker:main",
    "render": "bench.render:main",
    "retarget": "bench.retarget:main",
    "bake": "bench.bake:main",
    "server": "bench.server:main",
    "batch": "bench.batch:main",
}
"""bench name → "module:function"; the function takes the remaining arguments and returns an exit code."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHES), help="which bench to run")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments of the bench (see NAME --help)")


def run(args: argparse.Namespace) -> int:
    module_name, _, function = BENCHES[args.name].partition(":")
    main = getattr(importlib.import_module(module_name), function)
    return int(main(args.bench_args) or 0)
