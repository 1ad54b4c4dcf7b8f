"""glTF export: parse the .glb back and check mesh, morph targets and names."""

from __future__ import annotations

import json
import struct

import numpy as np

from core.gltf import rig_to_glb, triangles
from core.rig import FaceRig


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    doc = json.loads(data[20 : 20 + json_len])
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == 0x004E4942
    body = data[28 + json_len : 28 + json_len + bin_len]
    assert len(body) == bin_len == doc["buffers"][0]["byteLength"]
    return doc, body


def read_accessor(doc: dict, body: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32}[acc["componentType"]]
    width = {"VEC3": 3, "SCALAR": 1}[acc["type"]]
    raw = body[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
    return np.frombuffer(raw, dtype=dtype).reshape(acc["count"], width).squeeze()


def test_glb_has_mesh_and_named_morph_targets() -> None:
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(5, 3))
    faces = np.array([[0, 1, 2, 3], [1, 2, 4, -1]])
    basis = rng.normal(size=(3, 5, 3))
    rig = FaceRig(name="demo", vertices=verts, faces=faces, channels=["jawOpen", "a", "b"], basis=basis)
    doc, body = parse_glb(rig_to_glb(rig))
    mesh = doc["meshes"][0]
    prim = mesh["primitives"][0]
    assert mesh["extras"]["targetNames"] == ["jawOpen", "a", "b"] and mesh["weights"] == [0.0, 0.0, 0.0]
    assert len(prim["targets"]) == 3
    np.testing.assert_allclose(read_accessor(doc, body, prim["attributes"]["POSITION"]), verts, rtol=1e-6)
    for k, target in enumerate(prim["targets"]):
        acc = doc["accessors"][target["POSITION"]]
        np.testing.assert_allclose(read_accessor(doc, body, target["POSITION"]), basis[k], rtol=1e-6)
        np.testing.assert_allclose(acc["min"], basis[k].min(0), rtol=1e-6)
    tris = read_accessor(doc, body, prim["indices"]).reshape(-1, 3)
    np.testing.assert_array_equal(tris, [[0, 1, 2], [1, 2, 4], [0, 2, 3]])
    assert all(v["byteOffset"] % 4 == 0 for v in doc["bufferViews"])


def test_triangles_pass_through() -> None:
    tri = np.array([[0, 1, 2]])
    np.testing.assert_array_equal(triangles(tri), tri)
