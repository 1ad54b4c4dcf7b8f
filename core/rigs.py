"""Find and load the rigs of DESIGN §2 by id: ``arkit``, ``flame``, ``bfm``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError, ModelMissingError
from core.paths import builtin_head_path, models_dir
from core.rig import FaceRig

RIG_NAMES: tuple[str, ...] = ("arkit", "flame", "bfm")
FLAME_URL = "https://flame.is.tue.mpg.de"
BFM_URL = "https://github.com/sicxu/Deep3DFaceRecon_pytorch#prepare-prerequisite-models"


def flame_npz_path() -> Path:
    return models_dir() / "flame.npz"


def bfm_npz_path() -> Path:
    return models_dir() / "bfm.npz"


def bfm_mat_path() -> Path:
    return models_dir() / "BFM" / "BFM_model_front.mat"


def load_rig(name: str) -> FaceRig:
    """The rig called ``name``; licensed rigs raise :class:`ModelMissingError` saying what to do."""
    if name == "arkit":
        head = builtin_head_path()
        if head is None:
            raise ModelMissingError("the built-in head (meshes/) is not part of this installation")
        return FaceRig.from_npz(head)
    if name == "flame":
        path = flame_npz_path()
        if not path.is_file():
            raise ModelMissingError(
                f"the FLAME rig is not imported yet: download FLAME 2020 from {FLAME_URL} and run "
                f"`mouthpiece import-flame path/to/generic_model.pkl` (it writes {path})"
            )
        return FaceRig.from_npz(path)
    if name == "bfm":
        if bfm_npz_path().is_file():
            return FaceRig.from_npz(bfm_npz_path())
        if bfm_mat_path().is_file():
            from core.bfm import load_bfm_mat

            rig = load_bfm_mat(bfm_mat_path())
            with contextlib.suppress(OSError):  # read-only models folder: convert again next time
                rig.to_npz(bfm_npz_path())
            return rig
        raise ModelMissingError(
            f"the BFM rig needs Deep3DFaceRecon's BFM_model_front.mat ({BFM_URL}); put it at {bfm_mat_path()}"
        )
    raise InputError(f"unknown rig '{name}'; choose one of: {', '.join(RIG_NAMES)}")


@dataclass
class RigStatus:
    name: str
    ready: bool
    path: str
    message: str


def rig_status() -> list[RigStatus]:
    """Whether each licensed rig is present, and where it goes (for ``mouthpiece models``)."""
    flame = flame_npz_path()
    bfm_ready = bfm_npz_path().is_file() or bfm_mat_path().is_file()
    bfm_where = bfm_npz_path() if bfm_npz_path().is_file() else bfm_mat_path()
    return [
        RigStatus("arkit", True, "meshes/ (built in)", "built-in head, always available"),
        RigStatus(
            "flame",
            flame.is_file(),
            str(flame),
            "imported" if flame.is_file() else f"get FLAME 2020 at {FLAME_URL}, then `mouthpiece import-flame PKL`",
        ),
        RigStatus(
            "bfm",
            bfm_ready,
            str(bfm_where),
            "present" if bfm_ready else f"build BFM_model_front.mat as in {BFM_URL} and put it there",
        ),
    ]
