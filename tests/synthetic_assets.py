"""Synthetic stand-ins for licensed files, written in their real formats (never real data).

* FLAME ``.pkl``: a protocol-2 pickle as Python 2's cPickle wrote it. Strings are Python-2 ``str``
  (BINSTRING opcodes, which must be read with ``encoding="latin1"``), arrays are numpy
  reconstructions, ``shapedirs``/``v_template``/``J`` are ``chumpy.ch.Ch`` objects, ``posedirs`` a
  ``chumpy.reordering.Reshape`` of a ``Ch``, and ``J_regressor`` a ``scipy.sparse.csc.csc_matrix``.
  The chumpy and old-scipy classes are fake classes placed in ``sys.modules`` only while pickling.
* BFM ``BFM_model_front.mat`` with Deep3DFaceRecon's keys, written by ``scipy.io.savemat``.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import scipy.sparse

FLAME_PARENTS = [-1, 0, 1, 1, 1]


class _Py2Pickler(pickle._Pickler):
    """Protocol 2 with Python 2 ``str`` semantics: text and bytes both become BINSTRING."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: str | bytes) -> None:
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


@contextlib.contextmanager
def _fake_modules(modules: dict[str, dict[str, type]]) -> Iterator[None]:
    """Install throwaway modules in ``sys.modules`` (restoring what was there afterwards)."""
    saved = {name: sys.modules.get(name) for name in modules}
    try:
        for name, classes in modules.items():
            module = types.ModuleType(name)
            for cls_name, cls in classes.items():
                cls.__module__ = name
                cls.__qualname__ = cls_name
                setattr(module, cls_name, cls)
            sys.modules[name] = module
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def _chumpy_classes() -> dict[str, dict[str, type]]:
    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self._dirty_vars: set[str] = set()
            self._itr = None
            self._make_dense = False
            self._make_sparse = False
            self._depends_on_deps: dict = {}

        def __getstate__(self) -> dict[str, Any]:
            return dict(self.__dict__)

    class Reshape(Ch):
        def __init__(self, a: Ch, newshape: tuple[int, ...]) -> None:
            super().__init__(np.zeros(0))
            del self.x
            self.a = a
            self.newshape = newshape

    class csc_matrix:  # the scipy<1.8 class name written in FLAME pickles
        def __init__(self, m: scipy.sparse.csc_matrix) -> None:
            self._shape = m.shape
            self.maxprint = 50
            self.format = "csc"
            self.data, self.indices, self.indptr = m.data, m.indices, m.indptr

    return {
        "chumpy": {},
        "chumpy.ch": {"Ch": Ch},
        "chumpy.reordering": {"Reshape": Reshape},
        "scipy.sparse.csc": {"csc_matrix": csc_matrix},
    }


def flame_arrays(n_vertices: int = 40, n_expression: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Random FLAME-shaped arrays: 300 identity + ``n_expression`` shape components, 5 joints."""
    rng = np.random.default_rng(seed)
    v = rng.normal(scale=0.1, size=(n_vertices, 3))
    faces = np.stack([np.arange(n_vertices - 2), np.arange(1, n_vertices - 1), np.arange(2, n_vertices)], 1)
    regressor = np.zeros((5, n_vertices))
    for j in range(5):
        idx = rng.choice(n_vertices, size=4, replace=False)
        regressor[j, idx] = 0.25
    weights = rng.random((n_vertices, 5)) ** 3
    weights /= weights.sum(axis=1, keepdims=True)
    return {
        "v_template": v,
        "f": faces.astype(np.uint32),
        "shapedirs": rng.normal(scale=1e-3, size=(n_vertices, 3, 300 + n_expression)),
        "posedirs": rng.normal(scale=1e-3, size=(n_vertices, 3, 36)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.uint32),
    }


def write_flame_pkl(
    path: Path, arrays: dict[str, np.ndarray] | None = None, protocol: int = 2
) -> dict[str, np.ndarray]:
    """Write a FLAME-format pickle as Python 2 + chumpy + scipy<1.8 did; returns the arrays.

    Protocol 2 builds objects with NEWOBJ; protocols 0/1 with ``copy_reg._reconstructor``.
    """
    arrays = arrays or flame_arrays()
    classes = _chumpy_classes()
    ch = classes["chumpy.ch"]["Ch"]
    reshape = classes["chumpy.reordering"]["Reshape"]
    csc = classes["scipy.sparse.csc"]["csc_matrix"]
    with _fake_modules(classes):
        data: dict[str, Any] = {
            "v_template": ch(arrays["v_template"]),
            "f": arrays["f"],
            "shapedirs": ch(arrays["shapedirs"]),
            "posedirs": reshape(ch(arrays["posedirs"].ravel()), arrays["posedirs"].shape),
            "J_regressor": csc(scipy.sparse.csc_matrix(arrays["J_regressor"])),
            "J": ch(arrays["J_regressor"] @ arrays["v_template"]),
            "weights": arrays["weights"],
            "kintree_table": arrays["kintree_table"],
            "bs_style": "lbs",
            "bs_type": "lrotmin",
        }
        with path.open("wb") as f:
            _Py2Pickler(f, protocol=protocol).dump(data)
    return arrays


class _Evil:
    def __init__(self, func: Any, arg: str) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return self.func, (self.arg,)


def write_malicious_pkl(path: Path, func: Any, arg: str) -> None:
    """A FLAME-looking pickle whose ``v_template`` calls ``func(arg)`` when unpickled."""
    with path.open("wb") as f:
        pickle.dump({"f": np.zeros((1, 3), np.uint32), "v_template": _Evil(func, arg)}, f, protocol=2)


def bfm_arrays(n_vertices: int = 120, n_faces: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays with Deep3DFaceRecon's BFM_model_front.mat keys and layouts."""
    rng = np.random.default_rng(seed)
    n3 = 3 * n_vertices
    tri = np.stack([rng.choice(n_vertices, 3, replace=False) for _ in range(n_faces)]) + 1
    return {
        "meanshape": rng.normal(size=(1, n3)).astype(np.float32),
        "idBase": rng.normal(scale=1e-2, size=(n3, 80)).astype(np.float32),
        "exBase": rng.normal(scale=1e-2, size=(n3, 64)).astype(np.float32),
        "meantex": rng.uniform(0, 255, size=(1, n3)).astype(np.float32),
        "texBase": rng.normal(size=(n3, 80)).astype(np.float32),
        "tri": tri.astype(np.float64),
        "point_buf": rng.integers(1, n_faces + 1, size=(n_vertices, 8)).astype(np.float64),
        "keypoints": (rng.choice(n_vertices, 68, replace=False) + 1).astype(np.float64)[None],
    }


def write_bfm_mat(path: Path, arrays: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    arrays = arrays or bfm_arrays()
    scipy.io.savemat(path, arrays)
    return arrays
