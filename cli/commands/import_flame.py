"""`mouthpiece import-flame PKL [-o OUT.npz]`: convert a FLAME model once into the `flame` rig."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import InputError

HELP = "convert FLAME 2020 generic_model.pkl or FLAME 2023 flame2023.pkl into the flame rig (no chumpy needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pkl", metavar="PKL", type=Path, help="FLAME model pickle from flame.is.tue.mpg.de")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="output .npz (default: flame.npz in the models folder)"
    )
    parser.add_argument(
        "--shape",
        type=Path,
        default=None,
        help="identity to bake into the neutral mesh: .npy or text file of up to 300 FLAME shape coefficients",
    )
    parser.add_argument(
        "--flame-version", choices=["2017", "2019", "2020", "2023"], default=None,
        help="FLAME release, when the file name does not tell (EMOTE was trained on 2020)",
    )  # fmt: skip


def _read_shape(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"shape file not found: {path}")
    try:
        values = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else np.loadtxt(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read shape coefficients from {path.name} ({exc})") from None
    return np.asarray(values, dtype=np.float64).ravel()


def run(args: argparse.Namespace) -> int:
    from core.flame import load_flame_pkl, save_flame_npz
    from core.rigs import flame_npz_path

    out: Path = args.output or flame_npz_path()
    if out.suffix.lower() != ".npz":
        raise InputError(f"output must end in .npz, got '{out.name}'")
    shape = _read_shape(args.shape) if args.shape else None
    model = load_flame_pkl(args.pkl, version=args.flame_version)
    rig = model.to_rig(shape)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {out.parent}: {exc.strerror or exc}") from None
    with atomic_path(out) as tmp:
        save_flame_npz(model, rig, tmp)
    s = model.sizes()
    print(f"FLAME {model.version}: {model.version_basis}")
    print(
        f"  {s['vertices']} vertices, {s['faces']} faces, {s['shape_dims']} identity + "
        f"{s['expression_dims']} expression components, {s['joints']} joints, "
        f"{s['pose_correctives']} pose correctives"
    )
    if shape is not None:
        print(f"  identity: {shape.size} shape coefficients baked into the neutral mesh")
    if model.version not in ("2020", "unknown"):
        print(f"  note: EMOTE's parameters belong to FLAME 2020; this is FLAME {model.version}")
    for warning in rig.meta.get("warnings", []):
        print(f"  warning: {warning}")
    print(f"wrote {out}")
    return 0
