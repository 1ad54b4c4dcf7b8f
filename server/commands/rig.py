"""`mouthpiece rig RIG -o FILE`: write a rig as the `.npz` wire form or a `.glb` with morph targets."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    rig = load_rig(args.rig)
    if suffix == ".glb":
        write_glb(rig, out)
    else:
        rig.to_npz(out)
    joints = f", {len(rig.joint_names)} joints" if rig.has_joints else ""
    print(f"wrote {out}: rig '{rig.name}', {rig.num_vertices} vertices, {len(rig.channels)} channels{joints}")
    return 0
