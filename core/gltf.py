"""Write a rig as a glTF 2.0 binary (``.glb``): one mesh, one morph target per channel.

Morph target names go in ``mesh.extras.targetNames`` (the convention Blender, three.js and Babylon
read). Quads (F,4 with -1 marking triangles) are split into triangles. Joints are not exported.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from core.rig import FaceRig

FLOAT = 5126
UINT32 = 5125
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
GLB_MAGIC = 0x46546C67
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942


def triangles(faces: np.ndarray) -> np.ndarray:
    """(F,3) or (F,4, -1 = triangle) faces → (N,3) triangles."""
    f = np.asarray(faces, dtype=np.int64)
    if f.shape[1] == 3:
        return f
    tris = f[:, :3]
    quads = f[f[:, 3] >= 0]
    return np.concatenate([tris, quads[:, [0, 2, 3]]], axis=0)


class _Buffer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, component: int, kind: str, target: int, bounds: bool = False) -> int:
        raw = np.ascontiguousarray(array).tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw), "target": target})
        self.data += raw + b"\0" * (-len(raw) % 4)
        accessor = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": int(array.shape[0]),
            "type": kind,
        }
        if bounds:
            accessor["min"] = [float(x) for x in array.min(axis=0)]
            accessor["max"] = [float(x) for x in array.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def rig_to_glb(rig: FaceRig) -> bytes:
    """The rig as ``.glb`` bytes."""
    buf = _Buffer()
    position = buf.add(rig.vertices.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, bounds=True)
    indices = buf.add(triangles(rig.faces).astype(np.uint32).ravel(), UINT32, "SCALAR", ELEMENT_ARRAY_BUFFER)
    targets = [
        {"POSITION": buf.add(delta.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, bounds=True)} for delta in rig.basis
    ]
    primitive: dict = {"attributes": {"POSITION": position}, "indices": indices, "mode": 4}
    mesh: dict = {"name": rig.name, "primitives": [primitive]}
    if targets:
        primitive["targets"] = targets
        mesh["weights"] = [0.0] * len(targets)
        mesh["extras"] = {"targetNames": list(rig.channels)}
    doc = {
        "asset": {"version": "2.0", "generator": "mouthpiece"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": rig.name, "mesh": 0}],
        "meshes": [mesh],
        "buffers": [{"byteLength": len(buf.data)}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = bytes(buf.data)
    total = 12 + 8 + len(text) + 8 + len(body)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, 2, total),
            struct.pack("<II", len(text), JSON_CHUNK),
            text,
            struct.pack("<II", len(body), BIN_CHUNK),
            body,
        ]
    )


def write_glb(rig: FaceRig, path: str | Path) -> Path:
    p = Path(path)
    p.write_bytes(rig_to_glb(rig))
    return p
