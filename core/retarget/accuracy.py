"""How close a retargeted take is to the ARKit weights that made it (shared by tests and the bench)."""

from __future__ import annotations

import numpy as np

from core.arkit import ARKIT_CHANNELS
from core.lbs import pose_rig
from core.retarget.synthetic import skin_channels
from core.rig import FaceRig

GAPS = {
    "lips": ("lip_upper_mid", "lip_lower_mid"),
    "lid_L": ("eyelid_upper_L", "eyelid_lower_L"),
    "lid_R": ("eyelid_upper_R", "eyelid_lower_R"),
}
CLOSED = 1.5e-3  # metres: lips nearer than this are closed
OPEN = 2.5e-3  # and farther than this are apart


def face_height(rig: FaceRig) -> float:
    """Upper lid to chin, the unit the gap errors are given in."""
    v = rig.vertices
    return float(v[rig.landmark("eyelid_upper_L"), 2] - v[rig.landmark("chin"), 2])


def gaps(rig: FaceRig, posed: np.ndarray) -> dict[str, np.ndarray]:
    """Lip and lid gaps (T,) of posed vertices (T,V,3), in the rig's units."""
    return {
        k: np.linalg.norm(posed[:, rig.landmark(a)] - posed[:, rig.landmark(b)], axis=1) for k, (a, b) in GAPS.items()
    }


def accuracy(head: FaceRig, truth: np.ndarray, solved: np.ndarray) -> dict[str, float]:
    """Mean abs weight error (skin channels), worst gap errors / face height, closures kept.

    ``closures_kept``: of the frames whose lips are sealed in the truth (gap under 0.5 mm), the
    share that stay under ``CLOSED``; ``openings_kept`` likewise for frames open wider than 4 mm.
    """
    cols = [ARKIT_CHANNELS.index(c) for c in skin_channels()]
    g_truth, g_out = gaps(head, pose_rig(head, truth)), gaps(head, pose_rig(head, solved))
    h = face_height(head)
    sealed, wide = g_truth["lips"] < 5e-4, g_truth["lips"] > 4e-3
    return {
        "mean_abs_error": float(np.abs(solved - truth)[:, cols].mean()),
        **{f"{k}_gap_error": float(np.abs(g_truth[k] - g_out[k]).max() / h) for k in GAPS},
        "closures_kept": float((g_out["lips"][sealed] < CLOSED).mean()) if sealed.any() else 1.0,
        "openings_kept": float((g_out["lips"][wide] > OPEN).mean()) if wide.any() else 1.0,
    }
