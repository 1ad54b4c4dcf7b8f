"""Reading `.mat` files: v7.3 (HDF5), complex, truncated and corrupt files are one line naming the file,
through the one loader and every reader that uses it (style clips, the BFM model, SadTalker tracks)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io

from core.adapters.sadtalker_mat import read_sadtalker_mat
from core.bfm import load_bfm_mat
from core.engines.styletalk.style_clip import read_style_clip
from core.errors import InputError
from core.matlab import is_hdf5_mat, load_mat
from tests.support.hostile import mat_v73
from tests.synthetic_assets import bfm_arrays

READERS: dict[str, Callable[[Path], Any]] = {
    "style clip": read_style_clip,
    "BFM model": load_bfm_mat,
    "SadTalker track": read_sadtalker_mat,
}


def _mat_bytes(arrays: dict[str, Any], **options: Any) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, arrays, **options)
    return buf.getvalue()


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("content", [mat_v73("IM"), mat_v73("MI"), b"\x89HDF\r\n\x1a\n" + bytes(600)])
def test_v73_files_are_refused_saying_how_to_save_them(tmp_path: Path, reader: str, content: bytes) -> None:
    path = tmp_path / "take.mat"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"take\.mat is a MATLAB v7\.3 \(HDF5\) file") as caught:
        READERS[reader](path)
    assert "save(FILE, VARIABLES..., '-v7')" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("compress", [False, True])
def test_complex_values_are_refused(tmp_path: Path, reader: str, compress: bool) -> None:
    arrays = {"coeff": np.ones((5, 257)) * (1 + 2j), "coeff_3dmm": np.ones((5, 70)) * 1j, **bfm_arrays()}
    arrays["exBase"] = arrays["exBase"] * 1j
    path = tmp_path / "take.mat"
    path.write_bytes(_mat_bytes(arrays, do_compression=compress))
    with pytest.raises(InputError, match=r"take\.mat: .*complex numbers"):
        READERS[reader](path)


def test_v4_files_still_load_and_their_complex_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.mat"
    path.write_bytes(_mat_bytes({"coeff_3dmm": np.arange(140.0).reshape(2, 70)}, format="4"))
    assert not is_hdf5_mat(path.read_bytes())
    np.testing.assert_array_equal(load_mat(path, "old.mat")["coeff_3dmm"], np.arange(140.0).reshape(2, 70))
    assert read_sadtalker_mat(path).values.shape[0] == 2
    path.write_bytes(_mat_bytes({"coeff_3dmm": np.ones((2, 70)) * 1j}, format="4"))
    with pytest.raises(InputError, match=r"old\.mat: 'coeff_3dmm' holds complex numbers"):
        load_mat(path, "old.mat")


@pytest.mark.parametrize("compress", [False, True])
def test_cut_and_corrupted_files_are_one_line(tmp_path: Path, compress: bool) -> None:
    arrays = {"coeff": np.arange(30 * 257.0).reshape(30, 257), "s": {"a": np.ones(3)}}
    good = _mat_bytes(arrays, do_compression=compress)
    path = tmp_path / "take.mat"
    rng = random.Random(16)
    for cut in range(0, len(good), max(1, len(good) // 80)):
        path.write_bytes(good[:cut])
        try:
            loaded = load_mat(path, "take.mat")
        except InputError as exc:
            assert str(exc).startswith("take.mat: ") and "\n" not in str(exc), exc
        else:  # cut where a variable ends: the ones before it, whole
            assert set(loaded) - {"__header__", "__version__", "__globals__"} < set(arrays), cut
            np.testing.assert_array_equal(loaded.get("coeff", arrays["coeff"]), arrays["coeff"])
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            load_mat(path, "take.mat")
        except InputError as exc:
            assert str(exc).startswith("take.mat") and "\n" not in str(exc), exc


def test_declared_arrays_are_capped_and_the_bfm_model_has_room_for_its_bases(tmp_path: Path) -> None:
    path = tmp_path / "big.mat"
    path.write_bytes(_mat_bytes({"coeff": np.zeros((1000, 257))}, do_compression=True))
    with pytest.raises(InputError, match=r"big\.mat: declares a 1000×257 array \(2 MB\); arrays over 1 MB"):
        load_mat(path, "big.mat", limit=2**20)
    arrays = bfm_arrays()
    arrays["texBase"] = np.zeros((360, 30_000))  # 82 MB of float64: over the default cap, as a real BFM's bases
    path.write_bytes(_mat_bytes(arrays, do_compression=True))
    with pytest.raises(InputError, match="declares a 360×30000 array"):
        load_mat(path, "big.mat")
    assert load_bfm_mat(path).num_vertices == 120
