"""Render the built-in head with the bpy module (Workbench): a turnaround and a labelled sheet of
every shape key at 1.0.

    .venv/bin/python scripts/render_head_sheet.py [--rig head.npz] [--out out] [--tile 224]

writes out/head_turnaround.png (front, 3/4, side, back) and out/head_expressions.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.rig import FaceRig

# part name -> RGB, plus eye sub-colours chosen by the angle from the eye's forward axis
COLORS = {
    "skin": (0.86, 0.70, 0.58),
    "mouth_interior": (0.45, 0.16, 0.16),
    "teeth_upper": (0.93, 0.91, 0.85),
    "teeth_lower": (0.93, 0.91, 0.85),
    "tongue": (0.72, 0.32, 0.32),
    "eye_white": (0.95, 0.95, 0.93),
    "iris": (0.25, 0.38, 0.50),
    "pupil": (0.03, 0.03, 0.03),
    "label": (0.05, 0.05, 0.05),
}
COMPANION = {"mouthClose": "jawOpen"}  # keys shown together with the key they act on
HEAD_CENTER = (0.0, -0.005, 0.165)


def _face_materials(rig: FaceRig) -> tuple[list[str], np.ndarray]:
    """A material name per face from the parts of its vertices (eyes split into white, iris, pupil)."""
    names = list(COLORS)
    faces = rig.faces
    first = faces[:, 0]
    part = np.asarray(rig.part_names)[rig.vertex_parts[first]]
    mat = np.array([names.index(p) if p in COLORS else 0 for p in part])
    for side in [p for p in ("eye_L", "eye_R") if p in rig.part_names]:
        sel_v = rig.vertex_parts == rig.part_names.index(side)
        center = rig.vertices[sel_v].mean(axis=0)
        valid = faces >= 0
        cent = np.where(valid[..., None], rig.vertices[np.maximum(faces, 0)], 0).sum(1) / valid.sum(1)[:, None]
        d = cent - center
        cosang = -d[:, 1] / np.linalg.norm(d, axis=1)
        is_eye = part == side
        mat[is_eye] = names.index("eye_white")
        mat[is_eye & (cosang > np.cos(np.radians(30)))] = names.index("iris")
        mat[is_eye & (cosang > np.cos(np.radians(13)))] = names.index("pupil")
    return names, mat


def build_object(bpy, rig: FaceRig):
    """The head as one mesh object with a shape key per channel and per-part materials."""
    faces = [tuple(int(v) for v in f if v >= 0) for f in rig.faces]
    mesh = bpy.data.meshes.new("arkit_head")
    mesh.from_pydata(rig.vertices.tolist(), [], faces)
    mesh.shade_smooth()
    names, mat = _face_materials(rig)
    for n in names:
        m = bpy.data.materials.new(n)
        m.diffuse_color = (*COLORS[n], 1.0)
        mesh.materials.append(m)
    mesh.polygons.foreach_set("material_index", mat.astype(np.int32))
    obj = bpy.data.objects.new("arkit_head", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for c, name in enumerate(rig.channels):
        kb = obj.shape_key_add(name=name, from_mix=False)
        kb.data.foreach_set("co", (rig.vertices + rig.basis[c]).astype(np.float32).ravel())
        kb.value = 0.0
    return obj


def setup_scene(bpy, size: tuple[int, int]):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.film_transparent = False
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.show_specular_highlight = True
    scene.display.shading.show_cavity = False
    scene.view_settings.view_transform = "Standard"
    world = bpy.data.worlds.new("world")
    world.color = (0.92, 0.92, 0.92)
    scene.world = world
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    return scene, cam


def aim(cam, distance: float, lens: float, target: tuple[float, float, float]) -> None:
    cam.data.lens = lens
    cam.location = (target[0], target[1] - distance, target[2])
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)


class Labeler:
    """Renders text labels with their own orthographic camera, away from the head."""

    def __init__(self, bpy, scene) -> None:
        self.bpy, self.scene = bpy, scene
        curve = bpy.data.curves.new("label", "FONT")
        curve.align_x, curve.align_y = "CENTER", "CENTER"
        mat = bpy.data.materials.new("label")
        mat.diffuse_color = (*COLORS["label"], 1.0)
        curve.materials.append(mat)
        self.text = bpy.data.objects.new("label", curve)
        self.text.location = (100.0, 0.0, 0.0)
        self.text.rotation_euler = (np.pi / 2, 0.0, 0.0)
        scene.collection.objects.link(self.text)
        self.camera = bpy.data.objects.new("label_camera", bpy.data.cameras.new("label_camera"))
        self.camera.data.type = "ORTHO"
        self.camera.location = (100.0, -5.0, 0.0)
        self.camera.rotation_euler = (np.pi / 2, 0.0, 0.0)
        scene.collection.objects.link(self.camera)

    def render(self, body: str, width: int, height: int) -> np.ndarray:
        """A (height, width, 3) strip with ``body`` centred in it."""
        scene = self.scene
        head_camera, size = scene.camera, (scene.render.resolution_x, scene.render.resolution_y)
        scene.camera = self.camera
        scene.render.resolution_x, scene.render.resolution_y = width, height
        self.camera.data.ortho_scale = 10.0  # scene units across the strip's width
        per_px = 10.0 / width
        self.text.data.body = body
        self.text.data.size = min(0.62 * height, 1.6 * width / max(len(body), 1)) * per_px
        strip = render(self.bpy, scene)
        scene.camera = head_camera
        scene.render.resolution_x, scene.render.resolution_y = size
        return strip


def render(bpy, scene) -> np.ndarray:
    """Render the scene and return its pixels (H, W, 3) top row first."""
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = str(Path(tmp) / "tile.png")
        bpy.ops.render.render(write_still=True)
        img = bpy.data.images.load(scene.render.filepath)
        px = np.empty(img.size[0] * img.size[1] * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
        w, h = img.size
        bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1, :, :3]


def save_png(bpy, pixels: np.ndarray, path: Path) -> None:
    h, w, _ = pixels.shape
    img = bpy.data.images.new(path.stem, w, h, alpha=True)
    rgba = np.concatenate([pixels[::-1], np.ones((h, w, 1), np.float32)], axis=2)
    img.pixels.foreach_set(rgba.astype(np.float32).ravel())
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()


def grid_image(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    h, w, _ = tiles[0].shape
    rows = -(-len(tiles) // cols)
    sheet = np.ones((rows * h, cols * w, 3), np.float32)
    for n, t in enumerate(tiles):
        r, c = divmod(n, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = t
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rig", type=Path, help="rig .npz (default: the built-in head)")
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--tile", type=int, default=224, help="tile size in pixels")
    parser.add_argument("--keys", nargs="+", help="only these shape keys on the sheet")
    args = parser.parse_args(argv)
    import bpy

    if args.rig:
        rig = FaceRig.from_npz(args.rig)
    else:
        from meshes import load_head

        rig = load_head()
    args.out.mkdir(parents=True, exist_ok=True)

    width = args.tile
    scene, cam = setup_scene(bpy, (width, width))
    labeler = Labeler(bpy, scene)
    obj = build_object(bpy, rig)
    pivot = bpy.data.objects.new("pivot", None)
    scene.collection.objects.link(pivot)
    obj.parent = pivot
    obj.location = (-HEAD_CENTER[0], -HEAD_CENTER[1], 0.0)
    strip_h = max(24, width // 8)

    scene.render.resolution_x = scene.render.resolution_y = 2 * width
    aim(cam, 0.88, 100.0, (0.0, 0.0, 0.136))
    views = []
    for name, angle in (("front", 0), ("three-quarter", 45), ("side", 90), ("back", 180)):
        pivot.rotation_euler = (0.0, 0.0, np.radians(angle))
        views.append(np.concatenate([render(bpy, scene), labeler.render(name, 2 * width, 2 * strip_h)]))
    save_png(bpy, grid_image(views, 4), args.out / "head_turnaround.png")

    scene.render.resolution_x = width
    pivot.rotation_euler = (0.0, 0.0, np.radians(8))
    scene.render.resolution_y = width * 9 // 8
    aim(cam, 0.66, 110.0, (0.0, 0.0, 0.14))
    keys = obj.data.shape_keys.key_blocks
    tiles = []
    for name in ["neutral", *(args.keys or rig.channels)]:
        for kb in keys[1:]:
            kb.value = 1.0 if kb.name in (name, COMPANION.get(name)) else 0.0
        body = name + (f" + {COMPANION[name]}" if name in COMPANION else "")
        tiles.append(np.concatenate([render(bpy, scene), labeler.render(body, width, strip_h)]))
    save_png(bpy, grid_image(tiles, min(9, len(tiles))), args.out / "head_expressions.png")
    print(f"wrote {args.out / 'head_turnaround.png'} and {args.out / 'head_expressions.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
