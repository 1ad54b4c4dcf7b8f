"""The track (DESIGN §3): per-frame channel weights and joint rotations, with its wire forms."""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.array_caps import MAX_TEXT_BYTES, check_npz
from core.atomic import atomic_path
from core.errors import InputError

FORMAT = "mouthpiece.track/1"
ROTATION_NAMES: tuple[str, ...] = ("jaw", "neck", "eye_L", "eye_R", "head")


@dataclass
class Track:
    """What an engine outputs and the add-on keys.

    ``values`` (T,C) float32 channel weights; ``rotations`` maps a joint name to (T,3) axis-angle;
    ``translation`` is an optional (T,3) head translation; ``meta`` is a JSON-able dict.
    """

    fps: float
    rig: str
    channels: list[str]
    values: np.ndarray
    rotations: dict[str, np.ndarray] = field(default_factory=dict)
    translation: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fps = float(self.fps)
        self.channels = [str(c) for c in self.channels]
        self.values = np.asarray(self.values, dtype=np.float32)
        self.rotations = {str(k): np.asarray(v, dtype=np.float32) for k, v in self.rotations.items()}
        if self.translation is not None:
            self.translation = np.asarray(self.translation, dtype=np.float32)
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (T / fps)."""
        return self.num_frames / self.fps

    def validate(self) -> None:
        """Raise :class:`InputError` naming what is wrong."""
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"track fps must be a positive number, got {self.fps}")
        if not self.rig:
            raise InputError("track has no rig id")
        if self.values.ndim != 2 or self.values.shape[1] != len(self.channels):
            raise InputError(f"track values must be (T, C={len(self.channels)}), got {tuple(self.values.shape)}")
        if len(set(self.channels)) != len(self.channels):
            raise InputError("track has duplicate channel names")
        t = self.values.shape[0]
        if not np.isfinite(self.values).all():
            raise InputError("track values contain NaN or infinity")
        for name, rot in self.rotations.items():
            if rot.shape != (t, 3):
                raise InputError(f"track rotation '{name}' must be ({t},3), got {tuple(rot.shape)}")
            if not np.isfinite(rot).all():
                raise InputError(f"track rotation '{name}' contains NaN or infinity")
        if self.translation is not None:
            if self.translation.shape != (t, 3):
                raise InputError(f"track translation must be ({t},3), got {tuple(self.translation.shape)}")
            if not np.isfinite(self.translation).all():
                raise InputError("track translation contains NaN or infinity")
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as exc:
            raise InputError(f"track meta is not JSON-serialisable: {exc}") from None

    def channel(self, name: str) -> np.ndarray:
        """The (T,) curve of one channel."""
        try:
            return self.values[:, self.channels.index(name)]
        except ValueError:
            raise InputError(f"track has no channel '{name}'") from None

    # ---- npz wire form ---------------------------------------------------------------------
    def to_npz(self, target: str | Path | BinaryIO) -> None:
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT),
            "fps": np.array(self.fps, dtype=np.float64),
            "rig": np.array(self.rig),
            "channels": np.array(self.channels, dtype=np.str_),
            "values": self.values,
            "meta": np.array(json.dumps(self.meta)),
        }
        for name, rot in self.rotations.items():
            arrays[f"rotation_{name}"] = rot
        if self.translation is not None:
            arrays["translation"] = self.translation
        np.savez_compressed(target, **arrays)

    def to_npz_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_npz(buf)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, source: str | Path | BinaryIO | bytes) -> Track:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        try:
            with ExitStack() as stack:
                fp = stack.enter_context(open(source, "rb")) if isinstance(source, str | Path) else source
                check_npz(fp, "track .npz")
                z = stack.enter_context(np.load(fp, allow_pickle=False))
                return cls._from_npz_arrays(z)
        except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
            raise InputError(f"not a track .npz file: {exc}") from None

    @classmethod
    def _from_npz_arrays(cls, z: Any) -> Track:
        missing = {"format", "fps", "rig", "channels", "values"} - set(z.files)
        if missing:
            raise InputError(f"track .npz is missing {sorted(missing)}")
        _check_format(str(z["format"]))
        return cls(
            fps=float(z["fps"]),
            rig=str(z["rig"]),
            channels=[str(c) for c in z["channels"]],
            values=z["values"],
            rotations={k[len("rotation_") :]: z[k] for k in z.files if k.startswith("rotation_")},
            translation=z.get("translation", None),
            meta=json.loads(str(z["meta"])) if "meta" in z else {},
        )

    # ---- JSON wire form --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "fps": self.fps,
            "rig": self.rig,
            "channels": list(self.channels),
            "values": self.values.tolist(),
            "rotations": {k: v.tolist() for k, v in self.rotations.items()},
            "meta": self.meta,
        }
        if self.translation is not None:
            d["translation"] = self.translation.tolist()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Track:
        if not isinstance(d, dict):
            raise InputError("track JSON must be an object")
        missing = {"format", "fps", "rig", "channels", "values"} - set(d)
        if missing:
            raise InputError(f"track JSON is missing {sorted(missing)}")
        _check_format(str(d["format"]))
        try:
            channels = list(d["channels"])
            translation = d.get("translation")
            return cls(
                fps=d["fps"],
                rig=d["rig"],
                channels=channels,
                values=_json_array(d["values"], "values", len(channels)),
                rotations={k: _json_array(v, f"rotation '{k}'", 3) for k, v in d.get("rotations", {}).items()},
                translation=None if translation is None else _json_array(translation, "translation", 3),
                meta=d.get("meta", {}),
            )
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise InputError(f"not a valid track JSON ({exc})") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Track:
        if len(text) > MAX_TEXT_BYTES:
            raise InputError(f"track JSON is {len(text) / 2**20:.0f} MB; the limit is {MAX_TEXT_BYTES // 2**20} MB")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"track is not valid JSON: {exc}") from None
        except RecursionError:
            raise InputError("track is not valid JSON: nested too deeply") from None
        return cls.from_dict(d)

    # ---- files -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``.npz`` or ``.json`` by the file's suffix, whole or not at all (an old file stays intact)."""
        path = Path(path)
        if path.suffix.lower() not in (".json", ".npz"):
            raise InputError(f"track files end in .npz or .json, not '{path.suffix}'")
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".json":
                tmp.write_text(self.to_json())
            else:
                tmp.write_bytes(self.to_npz_bytes())  # a failed write then leaves no half-closed zip behind

    @classmethod
    def load(cls, path: str | Path) -> Track:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"track file not found: {path}")
        if path.suffix.lower() == ".json":
            return cls.from_json(path.read_text())
        return cls.from_npz(path)


def _json_array(data: Any, what: str, width: int) -> np.ndarray:
    """A nested JSON list as a float32 (T, width) array; ``[]`` is zero frames."""
    try:
        arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"track JSON {what} must be a list of rows of numbers") from None
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, width)
    return arr


def _check_format(fmt: str) -> None:
    name, _, version = fmt.partition("/")
    if name != "mouthpiece.track" or not version:
        raise InputError(f"not a Mouthpiece track (format '{fmt}')")
    major = version.split(".")[0]
    if major != "1":
        hint = "; update Mouthpiece" if major.isdigit() and int(major) > 1 else ""
        raise InputError(f"track format version {version} is not supported (this Mouthpiece reads 1.x){hint}")
