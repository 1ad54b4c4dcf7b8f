"""Joints and smooth skinning weights of the built-in head."""

from __future__ import annotations

import numpy as np

from meshes.build.assemble import Head
from meshes.build.grid import smoothstep
from meshes.build.sdf import EYE_CENTER_L
from meshes.build.skin import MOUTH

JOINT_NAMES = ["head", "neck", "jaw", "eye_L", "eye_R"]
JOINT_PARENTS = np.array([-1, 0, 1, 1, 1], dtype=np.int32)
JOINT_POSITIONS = np.array(
    [
        [0.0, 0.016, 0.0],  # head: root at the neck base, drives everything
        [0.0, 0.012, 0.105],  # neck: the skull on the spine
        [0.0, -0.002, 0.150],  # jaw: the temporo-mandibular hinge
        EYE_CENTER_L,
        EYE_CENTER_L * np.array([-1.0, 1.0, 1.0]),
    ]
)
BAG_JAW = (1.0, 1.0, 1.0, 1.0, 0.6, 0.0)  # jaw share of the lower mouth-bag rings, front to back


def lowerness(updown: np.ndarray) -> np.ndarray:
    """1 on the lower lip side of the mouth loops, 0 on the upper side, 1/2 level with the corners."""
    return 0.5 - 0.5 * np.sign(updown) * np.abs(updown) ** 0.6


def jaw_weights(head: Head) -> np.ndarray:
    """Share of each vertex that follows the jaw: lower face, chin, under-chin, lower teeth, tongue."""
    x, y, z = head.vertices.T
    line = 0.0998 + 0.45 * np.clip(y + 0.085, 0.0, None)  # mouth line rising back to the hinge
    w = smoothstep(0.5 + (line - z) / 0.03)
    w *= 1 - smoothstep((y + 0.012) / 0.026)  # nothing behind the jaw hinge
    w *= smoothstep((z - 0.015) / 0.065)  # the neck below stays
    w *= 1 - smoothstep((np.abs(x) - 0.035) / 0.045)
    mouth = head.region == 1
    blend = smoothstep(head.ring[mouth] / MOUTH.rings) ** 1.5
    w[mouth] = (1 - blend) * lowerness(head.updown[mouth]) + blend * w[mouth]
    bag = head.region == 4
    depth = np.asarray(BAG_JAW)[np.clip(-head.ring[bag] - 1, 0, len(BAG_JAW) - 1)]
    w[bag] = np.clip(2 * lowerness(head.updown[bag]) - 0.5, 0, 1) * depth  # the floor moves with the teeth
    w[head.part_mask("teeth_lower")] = 1.0
    tongue = head.part_mask("tongue")
    ty = head.vertices[tongue, 1]
    w[tongue] = 1.0 - 0.4 * smoothstep((ty - ty.min()) / np.ptp(ty))  # the root follows the mouth floor
    w[head.part_mask("teeth_upper", "eye_L", "eye_R")] = 0.0
    return w


def skin_weights(head: Head) -> np.ndarray:
    """(V, 5) weights over JOINT_NAMES, rows summing to 1."""
    _, y, z = head.vertices.T
    root = 1 - smoothstep((z + 0.35 * (0.016 - y) - 0.03) / 0.07)
    jaw = jaw_weights(head) * (1 - root)
    w = np.zeros((len(z), 5))
    w[:, 0] = root
    w[:, 2] = jaw
    w[:, 1] = 1 - root - jaw
    for j, name in ((3, "eye_L"), (4, "eye_R")):
        sel = head.part_mask(name)
        w[sel] = 0.0
        w[sel, j] = 1.0
    return w
