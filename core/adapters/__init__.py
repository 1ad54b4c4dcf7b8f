"""Import and export tracks in other tools' formats, chosen by file suffix or by name.

| kind | suffix | format |
|---|---|---|
| ``track`` | ``.npz`` / ``.json`` | Mouthpiece's own wire forms (DESIGN §3) |
| ``emote`` | ``.pkl`` | EMOTE's FLAME parameter dict (25 fps) |
| ``styletalk`` | ``.npy`` | StyleTalk's (T,73) renderer coefficients (30 fps) |
| ``sadtalker`` | ``.mat`` | SadTalker's ``coeff_3dmm`` (T,70) (25 fps) |
| ``arkit`` | ``.csv`` | ARKit blendshapes in the Live Link Face CSV layout |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.adapters import emote_pkl, sadtalker_mat, styletalk_npy
from core.adapters.arkit_csv import read_arkit_csv, write_arkit_csv
from core.adapters.emote_pkl import read_emote_pkl, write_emote_pkl
from core.adapters.sadtalker_mat import read_sadtalker_mat, write_sadtalker_mat
from core.adapters.styletalk_npy import read_styletalk_npy, write_styletalk_npy
from core.atomic import atomic_path
from core.errors import InputError
from core.track import Track

Reader = Callable[[Path], Track]
Writer = Callable[[Track, Path], None]

KINDS: dict[str, tuple[tuple[str, ...], Reader, Writer]] = {
    "track": ((".npz", ".json"), Track.load, lambda track, path: track.save(path)),
    "emote": ((".pkl",), read_emote_pkl, write_emote_pkl),
    "styletalk": ((".npy",), read_styletalk_npy, write_styletalk_npy),
    "sadtalker": ((".mat",), read_sadtalker_mat, write_sadtalker_mat),
    "arkit": ((".csv",), read_arkit_csv, write_arkit_csv),
}


FILE_RIGS: dict[str, tuple[str, float | None]] = {
    "emote": ("flame", emote_pkl.FPS),
    "styletalk": ("bfm", styletalk_npy.FPS),
    "sadtalker": ("bfm", sadtalker_mat.FPS),
    "arkit": ("arkit", None),
}
"""kind → (the rig its files hold, the frame rate they are written at; None: the track's own)."""


def known_suffixes() -> list[str]:
    """Every known suffix, Mouthpiece's own first."""
    return [suffix for known, _, _ in KINDS.values() for suffix in known]


def kind_for(path: str | Path) -> str:
    """The kind whose suffix ``path`` has."""
    suffix = Path(path).suffix.lower()
    for kind, (suffixes, _, _) in KINDS.items():
        if suffix in suffixes:
            return kind
    known = ", ".join(known_suffixes())
    raise InputError(f"{path}: unknown track file type '{suffix}' (known: {known})")


def import_track(path: str | Path, kind: str | None = None) -> Track:
    """Read a track from ``path`` in the format ``kind`` (by default, the one its suffix names)."""
    return KINDS[_check_kind(kind or kind_for(path))][1](Path(path))


def export_track(track: Track, path: str | Path, kind: str | None = None) -> None:
    """Write ``track`` to ``path`` as ``kind`` (by default, the one its suffix names), whole or not at all."""
    writer = KINDS[_check_kind(kind or kind_for(path))][2]
    with atomic_path(path) as tmp:
        writer(track, tmp)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"unknown track format '{kind}' (known: {', '.join(KINDS)})")
    return kind
