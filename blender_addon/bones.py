"""Which bones of a character's armature the face's joints drive, suggested by name (vendor spellings)."""

from __future__ import annotations

import re

from .mapping import normalise

JOINTS: tuple[str, ...] = ("head", "neck", "jaw", "eye_L", "eye_R")
_PREFIX = re.compile(r"^(mixamorig\d*:|cc_base_|j_bip_c_|j_adj_|def-|org-|bip\d*[ _]|valvebiped\.bip01_)", re.I)
# normalised names (mapping.normalise after the vendor prefix) in order of preference
_NAMES: dict[str, tuple[str, ...]] = {
    "head": ("head",),
    "neck": ("neck", "neck01", "neck1", "necktwist01", "necklower", "neckupper"),
    "jaw": ("jaw", "jawroot", "lowerjaw", "jawmaster", "mandible"),
    "eye_L": ("eyel", "faceeyel", "eyeballl"),
    "eye_R": ("eyer", "faceeyer", "eyeballr"),
}


def _key(bone: str) -> str:
    return normalise(_PREFIX.sub("", bone))


def suggest_bones(bones: list[str]) -> dict[str, str]:
    """Joint → the bone whose name says it is that joint (CC4 ``CC_Base_Head``, Mixamo ``mixamorig:Neck``,
    VRM ``J_Bip_C_Head``/``J_Adj_L_FaceEye``, Daz ``lowerJaw``/``lEye``, plain ``head``/``eye.L``)."""
    by_key: dict[str, str] = {}
    for bone in bones:
        by_key.setdefault(_key(bone), bone)
    picks = {}
    for joint, names in _NAMES.items():
        found = next((by_key[n] for n in names if n in by_key), None)
        if found is not None:
            picks[joint] = found
    return picks
