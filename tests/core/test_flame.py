"""FLAME loader: Python-2 pickles with chumpy objects, read without chumpy; malicious pickles refused."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import pickletools
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from core import flame, safe_pickle
from core.errors import InputError, ModelFormatError
from core.rig import FaceRig
from tests.synthetic_assets import flame_arrays, write_flame_pkl, write_malicious_pkl


@pytest.fixture(scope="module")
def flame_pkl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path_factory.mktemp("flame") / "generic_model.pkl"
    return path, write_flame_pkl(path)


def test_synthetic_pickle_is_python2_chumpy_format(flame_pkl: tuple[Path, dict]) -> None:
    path, _ = flame_pkl
    data = path.read_bytes()
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert data[:2] == b"\x80\x02" and "BINSTRING" in ops and "BINUNICODE" not in ops
    assert b"chumpy.ch\nCh\n" in data and b"scipy.sparse.csc\ncsc_matrix\n" in data
    assert "chumpy" not in sys.modules and "chumpy.ch" not in sys.modules
    with pytest.raises(ModuleNotFoundError, match="chumpy"):  # a plain unpickler would need chumpy
        pickle.loads(data, encoding="latin1")


def test_flame_rig_from_pickle_without_chumpy(flame_pkl: tuple[Path, dict]) -> None:
    path, a = flame_pkl
    model = flame.load_flame_pkl(path)
    assert model.version == "2020"
    assert model.sizes() == {"vertices": 40, "faces": 38, "shape_dims": 300, "expression_dims": 100,
                             "joints": 5, "pose_correctives": 36}  # fmt: skip
    rig = model.to_rig()
    assert rig.name == "flame"
    assert rig.channels == [f"exp{i:03d}" for i in range(100)]
    np.testing.assert_allclose(rig.basis, np.transpose(a["shapedirs"][..., 300:], (2, 0, 1)), atol=1e-9)
    np.testing.assert_allclose(rig.vertices, a["v_template"], atol=1e-7)
    np.testing.assert_array_equal(rig.faces, a["f"])
    assert rig.joint_names == ["global", "neck", "jaw", "eye_L", "eye_R"]
    assert rig.joint_parents.tolist() == [-1, 0, 1, 1, 1]
    np.testing.assert_allclose(rig.joint_positions, a["J_regressor"] @ a["v_template"], atol=1e-7)
    np.testing.assert_allclose(rig.skin_weights, a["weights"], atol=1e-7)
    np.testing.assert_allclose(rig.pose_correctives, np.transpose(a["posedirs"], (2, 0, 1)), atol=1e-9)
    assert rig.meta["version"] == "2020" and rig.meta["shape_dims"] == 300
    assert rig.landmarks == {}  # not FLAME topology (40 vertices)


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_protocols_rebuild_objects_with_copy_reg(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "generic_model.pkl"
    a = write_flame_pkl(path, protocol=protocol)
    assert b"copy_reg\n_reconstructor" in path.read_bytes()
    rig = flame.load_flame_pkl(path).to_rig()
    np.testing.assert_allclose(rig.basis, np.transpose(a["shapedirs"][..., 300:], (2, 0, 1)), atol=1e-9)


def _stand_in(module: str, name: str, **state: object) -> object:
    obj = flame.ALLOWED_GLOBALS[(module, name)]()
    obj.__setstate__(state)
    return obj


def test_chumpy_and_sparse_stand_ins_evaluate() -> None:
    x = np.arange(12.0).reshape(3, 4)
    ch = _stand_in("chumpy.ch", "Ch", x=x)
    cases = [
        (_stand_in("chumpy.reordering", "transpose", a=ch, axes=(1, 0)), x.T),
        (_stand_in("chumpy.reordering", "Select", a=ch, idxs=np.array([5, 0]), preferred_shape=(2,)), [5.0, 0.0]),
        (_stand_in("chumpy.reordering", "Concatenate", m1=ch, m0=ch, axis=1), np.concatenate([x, x], 1)),
        (_stand_in("chumpy.ch_ops", "add", a=ch, b=ch), 2 * x),
        (_stand_in("chumpy.ch_ops", "subtract", a=ch, b=x), 0 * x),
        (_stand_in("chumpy.ch_ops", "multiply", a=ch, b=2.0), 2 * x),
    ]
    for obj, expected in cases:
        np.testing.assert_array_equal(flame.to_numpy(obj), expected)
    csr = scipy.sparse.csr_matrix(x)
    sparse = _stand_in("scipy.sparse._csr", "csr_matrix", data=csr.data, indices=csr.indices, indptr=csr.indptr,
                       _shape=(3, 4))  # fmt: skip
    np.testing.assert_array_equal(flame.to_numpy(sparse).toarray(), x)
    coo = scipy.sparse.coo_matrix(x)
    sparse = _stand_in("scipy.sparse.coo", "coo_matrix", data=coo.data, row=coo.row, col=coo.col, shape=(3, 4))
    np.testing.assert_array_equal(flame.to_numpy(sparse).toarray(), x)
    with pytest.raises(ModelFormatError, match="cannot evaluate a pickled Reshape"):
        flame.to_numpy(_stand_in("chumpy.reordering", "Reshape", a=ch))


def test_identity_shape_is_baked(flame_pkl: tuple[Path, dict]) -> None:
    path, a = flame_pkl
    shape = np.linspace(-2, 2, 50)
    rig = flame.load_flame_pkl(path).to_rig(shape)
    expected = a["v_template"] + a["shapedirs"][:, :, :50] @ shape
    np.testing.assert_allclose(rig.vertices, expected, atol=1e-6)
    np.testing.assert_allclose(rig.joint_positions, a["J_regressor"] @ expected, atol=1e-6)
    assert len(rig.meta["identity_shape"]) == 50
    with pytest.raises(InputError, match="at most 300"):
        flame.load_flame_pkl(path).to_rig(np.zeros(301))


def test_full_topology_gets_landmarks(tmp_path: Path) -> None:
    arrays = flame_arrays(n_vertices=flame.NUM_VERTICES, n_expression=2)
    arrays["shapedirs"] = arrays["shapedirs"].astype(np.float32)
    path = tmp_path / "flame2023.pkl"
    write_flame_pkl(path, arrays)
    model = flame.load_flame_pkl(path)
    rig = model.to_rig()
    assert model.version == "2023" and rig.channels == ["exp000", "exp001"]
    assert rig.landmarks == flame.FLAME_LANDMARKS


def test_npz_cache_round_trip(flame_pkl: tuple[Path, dict], tmp_path: Path) -> None:
    path, a = flame_pkl
    model = flame.load_flame_pkl(path)
    out = flame.save_flame_npz(model, model.to_rig(), tmp_path / "flame.npz")
    back = FaceRig.from_npz(out)  # allow_pickle=False inside
    assert back.channels[0] == "exp000" and back.meta["version"] == "2020"
    np.testing.assert_allclose(back.pose_correctives, model.to_rig().pose_correctives)
    np.testing.assert_allclose(flame.read_joint_regressor(out), a["J_regressor"], atol=1e-7)


@pytest.mark.parametrize(
    ("name", "folder", "version"),
    [("flame2023.pkl", "x", "2023"), ("generic_model.pkl", "x", "2020"), ("male_model.pkl", "FLAME2019", "2019"),
     ("model.pkl", "FLAME2020", "2020"), ("model.pkl", "2023_projects", "unknown")],
)  # fmt: skip
def test_version_from_names(name: str, folder: str, version: str) -> None:
    assert flame.detect_version(Path(folder) / name)[0] == version


def test_version_override(flame_pkl: tuple[Path, dict]) -> None:
    model = flame.load_flame_pkl(flame_pkl[0], version="2023")
    assert (model.version, model.version_basis) == ("2023", "version given by the user")


@pytest.mark.parametrize("func", [os.system, builtins.eval])
def test_malicious_pickle_is_refused_not_run(tmp_path: Path, func: object) -> None:
    marker = tmp_path / "pwned"
    command = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w').close()"
    path = tmp_path / "generic_model.pkl"
    write_malicious_pkl(path, func, command)
    with pytest.raises(InputError, match=rf"refused .*\.{func.__name__}'"):
        flame.load_flame_pkl(path)
    assert not marker.exists()


def test_safe_load_keeps_numpy_and_refuses_other_globals() -> None:
    value = {"a": np.arange(6.0).reshape(2, 3), "tags": {"x"}}
    for protocol in (2, 4, 5):
        back = safe_pickle.safe_load(io.BytesIO(pickle.dumps(value, protocol=protocol)))
        np.testing.assert_array_equal(back["a"], value["a"])
        assert back["tags"] == {"x"}
    with pytest.raises(InputError, match=r"'collections\.OrderedDict'"):
        safe_pickle.safe_load(io.BytesIO(pickle.dumps(__import__("collections").OrderedDict(a=1))))
    with pytest.raises(InputError, match="not a readable pickle"):
        safe_pickle.safe_load(io.BytesIO(b"PK\x03\x04 not a pickle"))


def test_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        flame.load_flame_pkl(tmp_path / "missing.pkl")
    (tmp_path / "model.npz").write_bytes(b"x")
    with pytest.raises(InputError, match=r"expected a FLAME \.pkl"):
        flame.load_flame_pkl(tmp_path / "model.npz")
    (tmp_path / "junk.pkl").write_bytes(b"hello world")
    with pytest.raises(InputError, match="not a readable pickle"):
        flame.load_flame_pkl(tmp_path / "junk.pkl")
    partial = {k: v for k, v in flame_arrays().items() if k != "shapedirs"}
    (tmp_path / "partial.pkl").write_bytes(pickle.dumps(partial, protocol=2))
    with pytest.raises(ModelFormatError, match="no 'shapedirs'"):
        flame.load_flame_pkl(tmp_path / "partial.pkl")
    bad = flame_arrays()
    bad["posedirs"] = bad["posedirs"][:, :, :9]
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(ModelFormatError, match="posedirs"):
        flame.load_flame_pkl(tmp_path / "bad.pkl")
