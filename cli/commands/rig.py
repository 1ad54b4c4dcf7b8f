"""`mouthpiece rig RIG -o FILE`: write a rig as the `.npz` wire form or a `.glb` with morph targets."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.atomic import atomic_path
from core.errors import InputError
from core.rigs import RIG_NAMES

HELP = "write a face rig (arkit, flame, bfm) as .npz (rig wire form) or .glb (mesh + morph targets)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rig", metavar="RIG", help=f"rig id: {', '.join(RIG_NAMES)}")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output file, .npz or .glb")


def run(args: argparse.Namespace) -> int:
    from core.gltf import write_glb
    from core.rigs import load_rig

    out: Path = args.output
    suffix = out.suffix.lower()
    if suffix not in (".npz", ".glb"):
        raise InputError(f"output must end in .npz or .glb, got '{out.name}'")
    rig = load_rig(args.rig)
    with atomic_path(out) as tmp:
        if suffix == ".glb":
            write_glb(rig, tmp)
        else:
            rig.to_npz(tmp)
    joints = f", {len(rig.joint_names)} joints" if rig.has_joints else ""
    print(f"wrote {out}: rig '{rig.name}', {rig.num_vertices} vertices, {len(rig.channels)} channels{joints}")
    return 0
