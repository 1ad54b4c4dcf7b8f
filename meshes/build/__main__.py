"""Regenerate the committed asset: `python -m meshes.build [OUTPUT.npz]`."""

from __future__ import annotations

import sys
from pathlib import Path

from meshes import ASSET_PATH
from meshes.build import build_head


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else ASSET_PATH
    rig = build_head()
    rig.to_npz(target)
    size = target.stat().st_size / 1e6
    counts = f"{rig.num_vertices} vertices, {len(rig.faces)} faces, {len(rig.channels)} shape keys"
    print(f"wrote {target}: {counts}, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
