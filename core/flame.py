"""FLAME 2020 / 2023 `.pkl` → the ``flame`` rig, without chumpy.

FLAME's pickles are Python-2 pickles (read with latin1) whose arrays may be chumpy objects and
whose ``J_regressor`` is a scipy sparse matrix. :func:`load_flame_pkl` reads them through
:func:`core.safe_pickle.safe_load`, which maps the chumpy and scipy-sparse classes to inert
stand-ins that only record their pickled state; those are then evaluated to plain numpy here.
Every other global is refused. The converted rig is cached as ``flame.npz`` (rig wire form plus
the dense ``joint_regressor``).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from core.array_caps import check_declared
from core.errors import InputError, ModelFormatError
from core.rig import FaceRig
from core.safe_pickle import safe_load

SHAPE_DIMS = 300
"""FLAME's shapedirs hold 300 identity components, then the expression components."""
JOINT_NAMES = ["global", "neck", "jaw", "eye_L", "eye_R"]
JOINT_PARENTS = [-1, 0, 1, 1, 1]
NUM_VERTICES = 5023

# FLAME vertex ids of the iBUG-68 landmarks (0-based), from yunik1004/SAiD data/FLAME_landmarks.txt
# (nearest FLAME vertices of the 68-point static landmark embedding). iBUG numbering is the
# subject's side: points 36-41 are the subject's right eye, 48 the right mouth corner. The lip
# midpoints are the inner-lip points (62, 66), so that a closed mouth measures a gap near zero.
FLAME_LANDMARKS: dict[str, int] = {
    "lip_upper_mid": 3531,  # iBUG 62
    "lip_lower_mid": 3504,  # iBUG 66
    "mouth_corner_R": 2820,  # iBUG 48
    "mouth_corner_L": 1703,  # iBUG 54
    "eyelid_upper_R": 2453,  # iBUG 37
    "eyelid_lower_R": 2359,  # iBUG 41
    "eyelid_upper_L": 1218,  # iBUG 44
    "eyelid_lower_L": 995,  # iBUG 46
    "chin": 3414,  # iBUG 8
    "nose_tip": 3564,  # iBUG 30
}


class _Pickled:
    """Inert stand-in for a pickled class instance: keeps its state, runs nothing."""

    kind = "object"

    state: dict[str, Any]

    def __new__(cls, *args: Any) -> _Pickled:  # NEWOBJ calls __new__ only
        obj = super().__new__(cls)
        obj.state = {}
        return obj

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {"state": state}


def _stand_in(kind: str) -> type[_Pickled]:
    return type(f"Pickled_{kind}", (_Pickled,), {"kind": kind})


# chumpy classes met in SMPL-family pickles (chumpy/ch.py, reordering.py, ch_ops.py) and the
# scipy sparse classes under their old (scipy<1.8) and current module names.
_CHUMPY = {
    ("chumpy.ch", "Ch"): "Ch",
    ("chumpy.reordering", "Reshape"): "Reshape",
    ("chumpy.reordering", "transpose"): "transpose",
    ("chumpy.reordering", "Select"): "Select",
    ("chumpy.reordering", "Concatenate"): "Concatenate",
    ("chumpy.ch_ops", "add"): "add",
    ("chumpy.ch_ops", "subtract"): "subtract",
    ("chumpy.ch_ops", "multiply"): "multiply",
}
_SPARSE = {
    (module, f"{fmt}_matrix"): fmt
    for fmt in ("csc", "csr", "coo")
    for module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse")
}
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    **{key: _stand_in(kind) for key, kind in _CHUMPY.items()},
    **{key: _stand_in(f"sparse_{fmt}") for key, fmt in _SPARSE.items()},
}


def _reconstructor(cls: type, base: type, state: Any) -> _Pickled:
    """``copyreg._reconstructor`` (protocol 0/1 objects), for stand-ins only."""
    if not (isinstance(cls, type) and issubclass(cls, _Pickled)):
        raise InputError(f"refused to rebuild a pickled {getattr(cls, '__name__', cls)!r} object")
    return cls()


ALLOWED_GLOBALS[("copyreg", "_reconstructor")] = _reconstructor
ALLOWED_GLOBALS[("builtins", "object")] = object


def to_numpy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """Evaluate chumpy / sparse stand-ins (recursively) to numpy arrays; other values pass.

    A node shared by several others is evaluated once (``memo``), and no result may exceed the array cap.
    """
    if not isinstance(value, _Pickled):
        return value
    memo = {} if memo is None else memo
    if id(value) not in memo:
        memo[id(value)] = _evaluate(value, memo)
    return memo[id(value)]


def _evaluate(value: _Pickled, memo: dict[int, Any]) -> Any:
    s = value.state
    kind = value.kind

    def ev(item: Any) -> Any:
        return to_numpy(item, memo)

    try:
        if kind == "Ch":
            return np.asarray(ev(s["x"]))
        if kind == "Reshape":
            return np.reshape(ev(s["a"]), s["newshape"])
        if kind == "transpose":
            return np.transpose(ev(s["a"]), s.get("axes"))
        if kind == "Select":
            out = np.asarray(ev(s["a"])).ravel()[np.asarray(s["idxs"])]
            shape = s.get("preferred_shape")
            return out.reshape(shape) if shape is not None else out
        if kind == "Concatenate":
            parts = [ev(s[k]) for k in sorted((k for k in s if re.fullmatch(r"m\d+", k)), key=lambda k: int(k[1:]))]
            return np.concatenate(parts, axis=s.get("axis", 0))
        if kind in ("add", "subtract", "multiply"):
            a, b = np.asarray(ev(s["a"])), np.asarray(ev(s["b"]))
            check_declared(np.broadcast_shapes(a.shape, b.shape), np.result_type(a, b), f"pickled chumpy {kind}")
            return getattr(np, kind)(a, b)
        if kind.startswith("sparse_"):
            shape = tuple(s.get("_shape") or s["shape"])
            fmt = kind.removeprefix("sparse_")
            check_declared(shape, np.float64, f"pickled sparse {fmt} matrix")  # it is made dense later
            if fmt == "coo":
                return scipy.sparse.coo_matrix((s["data"], (s["row"], s["col"])), shape=shape)
            cls = scipy.sparse.csc_matrix if fmt == "csc" else scipy.sparse.csr_matrix
            return cls((s["data"], s["indices"], s["indptr"]), shape=shape)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFormatError(f"cannot evaluate a pickled {kind} object ({exc})") from None
    raise ModelFormatError(f"unsupported pickled object {kind}")


@dataclass
class FlameModel:
    """FLAME arrays as plain numpy (V vertices, J joints)."""

    version: str
    version_basis: str
    v_template: np.ndarray  # (V,3)
    faces: np.ndarray  # (F,3)
    shapedirs: np.ndarray  # (V,3,300+E)
    posedirs: np.ndarray  # (V,3,9*(J-1))
    joint_regressor: np.ndarray  # (J,V) dense
    weights: np.ndarray  # (V,J)
    parents: np.ndarray  # (J,)

    @property
    def expression_dims(self) -> int:
        return int(self.shapedirs.shape[2] - SHAPE_DIMS)

    def sizes(self) -> dict[str, Any]:
        return {
            "vertices": int(self.v_template.shape[0]),
            "faces": int(self.faces.shape[0]),
            "shape_dims": SHAPE_DIMS,
            "expression_dims": self.expression_dims,
            "joints": len(self.parents),
            "pose_correctives": int(self.posedirs.shape[2]),
        }

    def neutral(self, shape: np.ndarray | None = None) -> np.ndarray:
        """Template with identity coefficients (≤300) baked in, float64 (V,3)."""
        v = self.v_template.astype(np.float64)
        if shape is None:
            return v
        s = np.asarray(shape, dtype=np.float64).ravel()
        if s.size > SHAPE_DIMS:
            raise InputError(f"FLAME identity has at most {SHAPE_DIMS} coefficients, got {s.size}")
        return v + np.tensordot(self.shapedirs[:, :, : s.size].astype(np.float64), s, axes=([2], [0]))

    def to_rig(self, shape: np.ndarray | None = None) -> FaceRig:
        """The ``flame`` rig: ``exp000``.. channels, 5 joints, 36 pose correctives, identity baked."""
        verts = self.neutral(shape)
        n_exp = self.expression_dims
        landmarks = FLAME_LANDMARKS if verts.shape[0] == NUM_VERTICES else {}
        meta: dict[str, Any] = {
            "source": "FLAME",
            "version": self.version,
            "version_basis": self.version_basis,
            **self.sizes(),
            "units": "m",
        }
        if shape is not None:
            meta["identity_shape"] = [float(x) for x in np.asarray(shape).ravel()]
        if not landmarks:
            meta["warnings"] = [f"mesh has {verts.shape[0]} vertices, not FLAME's {NUM_VERTICES}: no landmarks"]
        return FaceRig(
            name="flame",
            vertices=verts,
            faces=self.faces,
            channels=[f"exp{i:03d}" for i in range(n_exp)],
            basis=np.transpose(self.shapedirs[:, :, SHAPE_DIMS:], (2, 0, 1)),
            landmarks=dict(landmarks),
            joint_names=list(JOINT_NAMES),
            joint_parents=self.parents,
            joint_positions=self.joint_regressor @ verts,
            skin_weights=self.weights,
            pose_correctives=np.transpose(self.posedirs, (2, 0, 1)),
            meta=meta,
        )


def detect_version(path: Path) -> tuple[str, str]:
    """(version, basis). FLAME 2020 and 2023 share every array size, so the file name decides:

    ``flame2023*.pkl`` is 2023; ``FLAME<year>`` in the file or else the folder name gives the year;
    ``generic_model.pkl`` / ``male_model.pkl`` / ``female_model.pkl`` (the 2017-2020 names) are
    taken as 2020, the release EMOTE uses.
    """
    for label, text in (("file", path.name), ("folder", path.parent.name)):
        m = re.search(r"flame[ _-]?(20(?:17|19|20|23))", text, re.IGNORECASE)
        if m:
            return m.group(1), f"version from the {label} name '{text}'"
    if path.stem.lower() in ("generic_model", "male_model", "female_model"):
        return "2020", f"'{path.name}' is the FLAME 2017-2020 file name: assumed 2020"
    return "unknown", "no FLAME year in the file or folder name; pass --flame-version"


def _array(data: dict[str, Any], key: str, ndim: int) -> np.ndarray:
    if key not in data:
        raise ModelFormatError(f"FLAME model has no '{key}' (keys: {', '.join(sorted(data))})")
    value = to_numpy(data[key])
    if scipy.sparse.issparse(value):
        value = value.toarray()
    arr = np.asarray(value)
    if arr.ndim != ndim or arr.dtype == object:
        raise ModelFormatError(f"FLAME '{key}' must be a {ndim}-D numeric array, got shape {arr.shape}")
    return arr


def parse_flame(data: Any, version: str = "unknown", version_basis: str = "") -> FlameModel:
    """Check and convert an unpickled FLAME dict."""
    if not isinstance(data, dict):
        raise ModelFormatError(f"a FLAME model pickle holds a dict, this one holds {type(data).__name__}")
    v = _array(data, "v_template", 2)
    n = v.shape[0]
    faces = _array(data, "f", 2).astype(np.int64)
    shapedirs = _array(data, "shapedirs", 3)
    posedirs = _array(data, "posedirs", 3)
    regressor = _array(data, "J_regressor", 2)
    weights = _array(data, "weights", 2)
    kintree = _array(data, "kintree_table", 2)
    j = kintree.shape[1]
    checks = [
        (v.shape[1] == 3, f"v_template (V,3), got {v.shape}"),
        (faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < n, f"f (F,3) indexing {n} vertices"),
        (shapedirs.shape[:2] == (n, 3) and shapedirs.shape[2] > SHAPE_DIMS, f"shapedirs ({n},3,>300)"),
        (posedirs.shape == (n, 3, 9 * (j - 1)), f"posedirs ({n},3,{9 * (j - 1)}), got {posedirs.shape}"),
        (regressor.shape == (j, n), f"J_regressor ({j},{n}), got {regressor.shape}"),
        (weights.shape == (n, j), f"weights ({n},{j}), got {weights.shape}"),
        (j == len(JOINT_NAMES), f"{len(JOINT_NAMES)} joints, got {j}"),
    ]
    for ok, what in checks:
        if not ok:
            raise ModelFormatError(f"not a FLAME model: expected {what}")
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # stored as uint32 max
    if parents.tolist() != JOINT_PARENTS:
        raise ModelFormatError(f"not a FLAME model: joint parents {parents.tolist()}, expected {JOINT_PARENTS}")
    return FlameModel(
        version=version,
        version_basis=version_basis,
        v_template=v.astype(np.float64),
        faces=faces,
        shapedirs=shapedirs.astype(np.float32),
        posedirs=posedirs.astype(np.float32),
        joint_regressor=regressor.astype(np.float64),
        weights=weights.astype(np.float32),
        parents=parents,
    )


def load_flame_pkl(path: str | Path, version: str | None = None) -> FlameModel:
    """Read a FLAME ``.pkl`` (2020 ``generic_model.pkl``, 2023 ``flame2023.pkl``) without chumpy."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"FLAME model file not found: {p}")
    if p.suffix.lower() != ".pkl":
        raise InputError(f"expected a FLAME .pkl file (generic_model.pkl or flame2023.pkl), got '{p.name}'")
    detected, basis = detect_version(p)
    try:
        with p.open("rb") as f:
            data = safe_load(f, ALLOWED_GLOBALS)
    except InputError as exc:
        raise InputError(f"{p.name}: {exc}") from None
    try:
        return parse_flame(data, version or detected, "version given by the user" if version else basis)
    except RecursionError:
        raise ModelFormatError(f"{p.name}: not a FLAME model (its chumpy objects are nested too deeply)") from None
    except MemoryError:
        raise ModelFormatError(f"{p.name}: not a FLAME model (it declares more data than fits in memory)") from None


def save_flame_npz(model: FlameModel, rig: FaceRig, path: str | Path) -> Path:
    """Write the rig wire form plus the dense ``joint_regressor`` (for joints that follow shaping)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rig.to_npz(p)
    with zipfile.ZipFile(p, "a", compression=zipfile.ZIP_DEFLATED) as z, z.open("joint_regressor.npy", "w") as f:
        np.lib.format.write_array(f, model.joint_regressor.astype(np.float32), allow_pickle=False)
    return p


def read_joint_regressor(path: str | Path) -> np.ndarray | None:
    """The (J,V) joint regressor stored beside a converted FLAME rig, if any."""
    with np.load(path, allow_pickle=False) as z:
        return z["joint_regressor"] if "joint_regressor" in z.files else None
