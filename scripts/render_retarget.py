"""Render a source head and the retargeted built-in head side by side, a row per frame, to PNG.

    .venv/bin/python scripts/render_retarget.py --out out/retarget.png            # synthetic FLAME-format demo
    .venv/bin/python scripts/render_retarget.py --source-rig flame.npz --track take.npz --out out/retarget.png

Without a rig and a take it builds the tests' synthetic FLAME-format head (the built-in head
remeshed, its expression basis a known mix of the ARKit shapes), drives it with a speech-like
take and retargets that. Each row: the source (FLAME-format) head in the pose of the frame, then
the built-in head with the solved ARKit weights; the frame, lip gap and lid gap are printed below.
A small numpy z-buffer rasteriser (orthographic front view, Lambert shading) draws the meshes.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.retarget.geometry import triangles

SKIN = np.array([0.86, 0.70, 0.58])
SOURCE = np.array([0.62, 0.72, 0.86])
BACKGROUND = 0.97


def write_png(path: Path, rgb: np.ndarray) -> None:
    """8-bit RGB PNG with zlib (no imaging library needed)."""
    img = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    )


def rasterize(
    vertices: np.ndarray,
    tris: np.ndarray,
    color: np.ndarray,
    size: int,
    center: np.ndarray,
    extent: float,
    marks: np.ndarray | None = None,
) -> np.ndarray:
    """Front view (X right, Z up, looking along +Y) of a mesh as an (size,size,3) image."""
    v = np.asarray(vertices, dtype=np.float64)
    px = (v[:, 0] - center[0]) / extent * 0.5 * size + 0.5 * size
    py = 0.5 * size - (v[:, 2] - center[2]) / extent * 0.5 * size
    depth = v[:, 1]
    img = np.full((size, size, 3), BACKGROUND)
    zbuf = np.full((size, size), np.inf)
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = np.array([0.35, -0.8, 0.5])
    light /= np.linalg.norm(light)
    shade = 0.25 + 0.75 * np.clip(n @ light, 0, 1)
    facing = n[:, 1] < 0
    for f in np.flatnonzero(facing):
        i = tris[f]
        xs, ys = px[i], py[i]
        x0, x1 = int(max(np.floor(xs.min()), 0)), int(min(np.ceil(xs.max()), size - 1))
        y0, y1 = int(max(np.floor(ys.min()), 0)), int(min(np.ceil(ys.max()), size - 1))
        if x1 < x0 or y1 < y0:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
        det = (ys[1] - ys[2]) * (xs[0] - xs[2]) + (xs[2] - xs[1]) * (ys[0] - ys[2])
        if abs(det) < 1e-12:
            continue
        l0 = ((ys[1] - ys[2]) * (gx - xs[2]) + (xs[2] - xs[1]) * (gy - ys[2])) / det
        l1 = ((ys[2] - ys[0]) * (gx - xs[2]) + (xs[0] - xs[2]) * (gy - ys[2])) / det
        l2 = 1 - l0 - l1
        inside = (l0 >= -1e-6) & (l1 >= -1e-6) & (l2 >= -1e-6)
        z = l0 * depth[i[0]] + l1 * depth[i[1]] + l2 * depth[i[2]]
        sub = zbuf[y0 : y1 + 1, x0 : x1 + 1]
        win = inside & (z < sub)
        sub[win] = z[win]
        img[y0 : y1 + 1, x0 : x1 + 1][win] = color * shade[f]
    if marks is not None:
        for m in marks:
            x, y = int(px[m]), int(py[m])
            img[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = (0.8, 0.05, 0.05)
    return img


def _gap(v: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(v[a] - v[b]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--source-rig", type=Path, help="source rig .npz (flame or bfm); default: synthetic FLAME-format"
    )
    parser.add_argument("--track", type=Path, help="a take on the source rig; default: a speech-like synthetic take")
    parser.add_argument("--frames", default="", help="comma-separated frame numbers (default: 4 spread frames)")
    parser.add_argument("--size", type=int, default=320, help="tile size in pixels")
    parser.add_argument("--out", type=Path, default=Path("out/retarget.png"))
    parser.add_argument("--landmarks", action="store_true", help="mark the 68 iBUG landmarks")
    args = parser.parse_args(argv)

    from core.lbs import pose_rig
    from core.retarget import retarget
    from core.retarget.landmarks import ibug68
    from core.rig import FaceRig
    from core.rigs import load_rig
    from core.track import Track

    target = load_rig("arkit")
    if args.source_rig is None:
        from core.flame import parse_flame
        from core.retarget.synthetic import flame_arrays, speech_like_weights

        arrays, mixing = flame_arrays(target)
        source = parse_flame(arrays).to_rig()
        weights = speech_like_weights(100, seed=3)
        track = Track(25.0, "flame", source.channels, weights @ mixing.T)
    else:
        source = FaceRig.from_npz(args.source_rig)
        if args.track is None:
            parser.error("--track is needed with --source-rig")
        track = Track.load(args.track)
    out = retarget(track, "arkit", source=source, target=target)
    frames = [int(f) for f in args.frames.split(",") if f] or list(
        np.linspace(0, track.num_frames - 1, 4).round().astype(int)
    )
    rot = {k: v for k, v in track.rotations.items() if k == "jaw"}
    posed_src = pose_rig(source, track.values[frames], {k: v[frames] for k, v in rot.items()} or None)
    posed_tgt = pose_rig(target, out.values[frames])
    corr = out.meta["retarget"]
    scale, rotation, shift = corr["scale"], np.asarray(corr["rotation"]), np.asarray(corr["translation"])
    lm_s, lm_t = ibug68(source), ibug68(target)
    center = target.vertices[lm_t].mean(axis=0) - np.array([0.0, 0.0, 0.008])
    extent = 0.1
    src_tris, tgt_tris = triangles(source.faces), triangles(target.faces)
    rows = []
    for k, f in enumerate(frames):
        aligned = scale * posed_src[k].astype(np.float64) @ rotation.T + shift
        left = rasterize(aligned, src_tris, SOURCE, args.size, center, extent, lm_s if args.landmarks else None)
        right = rasterize(posed_tgt[k], tgt_tris, SKIN, args.size, center, extent, lm_t if args.landmarks else None)
        rows.append(np.concatenate([left, np.ones((args.size, 6, 3)), right], axis=1))
        s_lip = _gap(aligned, source.landmark("lip_upper_mid"), source.landmark("lip_lower_mid"))
        t_lip = _gap(posed_tgt[k], target.landmark("lip_upper_mid"), target.landmark("lip_lower_mid"))
        print(f"frame {f}: lip gap source {s_lip * 1000:.1f} mm, retargeted {t_lip * 1000:.1f} mm")
    sheet = np.concatenate([np.concatenate([r, np.ones((6, r.shape[1], 3))]) for r in rows])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_png(args.out, sheet)
    print(f"wrote {args.out} (left: source {source.name} rig, right: built-in head, rows: frames {frames})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
