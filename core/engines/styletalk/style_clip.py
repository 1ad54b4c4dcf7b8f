"""Style clips: Deep3DFaceRecon `.mat` (`coeff` (T,257), expression 80:144) or `.npy` (T,64)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.array_caps import check_npy_file
from core.errors import InputError
from core.matlab import load_mat

EXP_SLICE = slice(80, 144)
STYLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def read_style_clip(path: str | Path) -> np.ndarray:
    """The (T, 64) expression coefficients of a style clip."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"style clip not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".mat":
        coeff = load_mat(p, f"style clip {p.name}").get("coeff")
        if not isinstance(coeff, np.ndarray) or not np.issubdtype(coeff.dtype, np.number) or coeff.shape[1:] != (257,):
            raise InputError(f"style clip {p.name} needs a 'coeff' array of shape (T, 257) (Deep3DFaceRecon)")
        exp = coeff[:, EXP_SLICE]
    elif suffix == ".npy":
        try:
            with p.open("rb") as fp:
                check_npy_file(fp, f"style clip {p.name}")
                exp = np.load(fp, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"style clip {p.name} is not a readable .npy file: {exc}") from None
        if not np.issubdtype(exp.dtype, np.integer) and not np.issubdtype(exp.dtype, np.floating):
            raise InputError(f"style clip {p.name} holds {exp.dtype} values; save the coefficients as real numbers")
        if exp.ndim != 2 or exp.shape[1] not in (64, 73):
            raise InputError(f"style clip {p.name} must be (T, 64) expression coefficients, got {exp.shape}")
        exp = exp[:, :64]
    else:
        raise InputError(f"style clips are .mat (Deep3DFaceRecon) or .npy (T,64) files, not '{p.suffix}'")
    if exp.shape[0] == 0:
        raise InputError(f"style clip {p.name} has no frames")
    if not np.isfinite(exp).all():
        raise InputError(f"style clip {p.name} contains NaN or infinite values")
    return np.ascontiguousarray(exp, dtype=np.float32)


def pad_style_clip(exp: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``max_len`` frames, zero-padded to ``max_len``, and the mask (True = padding)."""
    clip = exp[:max_len]
    n = clip.shape[0]
    padded = np.zeros((max_len, exp.shape[1]), dtype=np.float32)
    padded[:n] = clip
    mask = np.arange(max_len) >= n
    return padded, mask


def find_style(style: str, styles_dir: Path) -> Path:
    """A style given as a file path, or as a name of a clip in ``styles_dir``."""
    p = Path(style).expanduser()
    if p.suffix.lower() in (".mat", ".npy"):
        if p.is_file():
            return p
        if "/" in style or "\\" in style:
            raise InputError(f"style clip not found: {p}")
    if not STYLE_NAME.match(style) or ".." in style:
        raise InputError(f"invalid style name '{style}': use the name of a clip in {styles_dir}, or a file path")
    for suffix in (".mat", ".npy"):
        candidate = styles_dir / f"{style}{suffix}"
        if candidate.is_file():
            return candidate
    available = list_styles(styles_dir)
    hint = f" Available: {', '.join(available)}." if available else ""
    raise InputError(f"unknown style '{style}': put {style}.mat or {style}.npy in {styles_dir}.{hint}")


def list_styles(styles_dir: Path) -> list[str]:
    if not styles_dir.is_dir():
        return []
    return sorted(p.stem for p in styles_dir.iterdir() if p.suffix.lower() in (".mat", ".npy"))
