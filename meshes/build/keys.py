"""The 52 ARKit shape keys as analytic displacement fields over the built-in head.

Left keys are written once; right keys are their exact mirror images. Every field is localised with
smooth falloffs and side masks, so a left key leaves the right half still and nothing moves the back of
the head. jawOpen carries the jaw rotation itself (linear blend skinning with the jaw weights), and the
eyeLook keys rotate the eyeballs, so a track of channel weights alone animates the head.
"""

from __future__ import annotations

import numpy as np

from core.arkit import ARKIT_CHANNELS
from meshes.build.assemble import Head
from meshes.build.grid import smoothstep
from meshes.build.sdf import EYE_CENTER_L
from meshes.build.skin import EYE, MOUTH
from meshes.build.weights import JOINT_POSITIONS, lowerness

JAW_OPEN_ANGLE = 0.34  # radians at jawOpen = 1
EYE_LOOK = {"Up": (-0.33, "x"), "Down": (0.38, "x"), "In": (-0.45, "z"), "Out": (0.45, "z")}
LIP_RINGS = (1.0, 1.0, 0.97, 0.9, 0.75, 0.55, 0.35, 0.18, 0.07, 0.02, 0.0)  # lip share per mouth ring
BAG_RINGS = (1.0, 0.8, 0.4, 0.1, 0.0, 0.0)  # lip share per mouth-bag ring
LID_UPPER = (1.0, 0.97, 0.8, 0.45, 0.15, 0.03, 0.0)  # upper-lid share per eye ring
LID_LOWER = (1.0, 0.8, 0.4, 0.12, 0.02, 0.0, 0.0)
BAG_FOLLOW = (1.0, 0.6, 0.15, 0.0, 0.0, 0.0)  # how far into the mouth bag the lip keys reach
CLOSE_RINGS = (1.0, 0.95, 0.85, 0.7, 0.5, 0.3, 0.15, 0.05, 0.0, 0.0, 0.0)  # mouthClose share per ring
CLOSE_BAG = (0.6, 0.15, 0.0, 0.0, 0.0, 0.0)
CLOSE_UPPER = 0.4  # share of the lip gap closed by the upper lip
LIP_BACK_RINGS = (1.0, 1.0, 1.0, 0.9, 0.7, 0.4, 0.15, 0.03, 0.0, 0.0, 0.0)
PRESS_RINGS = (0.0, 0.5, 0.9, 1.0, 0.8, 0.45, 0.2, 0.05, 0.0, 0.0, 0.0)


def rotate(points: np.ndarray, center: np.ndarray, axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotate points about an axis (x or z) through center by per-point angles (right-handed)."""
    p = points - center
    c, s = np.cos(angle), np.sin(angle)
    out = p.copy()
    if axis == "x":
        out[:, 1] = c * p[:, 1] - s * p[:, 2]
        out[:, 2] = s * p[:, 1] + c * p[:, 2]
    else:
        out[:, 0] = c * p[:, 0] - s * p[:, 1]
        out[:, 1] = s * p[:, 0] + c * p[:, 1]
    return out + center


def gauss(p: np.ndarray, center, radii) -> np.ndarray:
    return np.exp(-np.sum(((p - np.asarray(center)) / np.asarray(radii)) ** 2, axis=1))


def left_mask(x: np.ndarray) -> np.ndarray:
    """1 on the character's left (+X), 0 beyond 6 mm on the right, 1/2 on the midline."""
    return smoothstep((x + 0.006) / 0.012)


class KeyBuilder:
    """Per-vertex fields shared by the keys, and one method per (left or symmetric) key."""

    def __init__(self, head: Head, jaw_weight: np.ndarray) -> None:
        self.h = head
        self.v = head.vertices
        self.jaw_w = jaw_weight
        bag_depth = np.asarray(BAG_FOLLOW)[np.clip(-head.ring - 1, 0, len(BAG_FOLLOW) - 1)]
        self.face = head.part_mask("skin") + head.part_mask("mouth_interior") * bag_depth
        loop = head.mouth_loop
        half = MOUTH.half_len
        self.corner = self.v[loop[0]]
        self.lip_mid = self.v[loop[half]]
        ring = head.ring
        lip = np.zeros(len(self.v))
        mouth, bag = head.region == 1, head.region == 4
        lip[mouth] = np.asarray(LIP_RINGS)[np.clip(ring[mouth], 0, MOUTH.rings)]
        lip[bag] = np.asarray(BAG_RINGS)[np.clip(-ring[bag] - 1, 0, 5)]
        low = np.where(mouth | bag, lowerness(head.updown), 0.0)
        self.upper_lip = lip * (1 - low) * (mouth | bag)
        self.lower_lip = lip * low
        close = np.zeros(len(self.v))
        close[mouth] = np.asarray(CLOSE_RINGS)[np.clip(ring[mouth], 0, MOUTH.rings)]
        close[bag] = np.asarray(CLOSE_BAG)[np.clip(-ring[bag] - 1, 0, 5)]
        self.close = close
        self.lip_back = np.where(mouth, np.asarray(LIP_BACK_RINGS)[np.clip(ring, 0, MOUTH.rings)], 0.0)
        self.press = np.where(mouth, np.asarray(PRESS_RINGS)[np.clip(ring, 0, MOUTH.rings)], 0.0)
        self.low = low
        self.mouth_area = gauss(self.v, self.lip_mid + np.array([0, 0.004, 0]), (0.034, 0.03, 0.024)) * self.face
        eye = np.isin(head.region, (2, 3, 5, 6))
        self.brow = self.face * np.where(eye, smoothstep((head.ring - 1.5) / 3.0), 1.0)  # lids stay
        self._lids()

    # ---- eyelids -----------------------------------------------------------------------------
    def _lids(self) -> None:
        h, v = self.h, self.v
        loop = h.eye_loops["eye_L"]
        half = EYE.half_len
        c = EYE_CENTER_L
        elev = np.arctan2(v[:, 2] - c[2], -(v[:, 1] - c[1]))
        upper = {half - n: loop[n] for n in range(2 * half + 1)}
        lower = {-half + 1 + m: loop[2 * half + 1 + m] for m in range(2 * half - 1)}
        lower[half], lower[-half] = upper[half], upper[-half]
        ds = sorted(upper)
        cos_t = np.array([np.cos(np.pi * (half - d) / (2 * half)) for d in ds])
        gap = np.array([elev[upper[d]] - elev[lower[d]] for d in ds])
        order = np.argsort(cos_t)
        eye = np.isin(h.region, (2, 5))
        ring = np.where(h.region == 5, 0, np.clip(h.ring, 0, 6))
        s = np.sin(h.theta)
        self.lid_gap = np.where(eye, np.interp(np.cos(h.theta), cos_t[order], gap[order]), 0.0)
        self.lid_up = np.where(eye & (s > 1e-9), np.asarray(LID_UPPER)[ring], 0.0)
        self.lid_low = np.where(eye & (s < -1e-9), np.asarray(LID_LOWER)[ring], 0.0)

    def _lid_delta(self, up_angle: np.ndarray, low_angle: np.ndarray) -> np.ndarray:
        """Rotate upper / lower lid vertices about the left eye's horizontal axis (positive = up)."""
        ang = self.lid_up * up_angle + self.lid_low * low_angle
        moved = rotate(self.v, EYE_CENTER_L, "x", -ang)
        return moved - self.v

    def eyeBlinkLeft(self) -> np.ndarray:
        return self._lid_delta(-0.92 * self.lid_gap, 0.07 * self.lid_gap)  # lids just touching

    def eyeSquintLeft(self) -> np.ndarray:
        d = self._lid_delta(-0.1 * self.lid_gap, 0.35 * self.lid_gap)
        cheek = gauss(self.v, EYE_CENTER_L + np.array([0.004, -0.012, -0.022]), (0.016, 0.014, 0.01)) * self.face
        return d + cheek[:, None] * (0.0, -0.0008, 0.0022) * left_mask(self.v[:, 0])[:, None]

    def eyeWideLeft(self) -> np.ndarray:
        return self._lid_delta(np.full(len(self.v), 0.2), np.full(len(self.v), -0.05))

    def _look(self, direction: str) -> np.ndarray:
        angle, axis = EYE_LOOK[direction]
        eye = self.h.part_mask("eye_L")
        d = np.zeros_like(self.v)
        d[eye] = rotate(self.v[eye], EYE_CENTER_L, axis, np.full(eye.sum(), angle)) - self.v[eye]
        if axis == "x":  # lids follow the gaze a little
            pitch = -angle
            d += self._lid_delta(np.full(len(self.v), 0.5 * pitch), np.full(len(self.v), 0.3 * pitch))
        return d

    def eyeLookUpLeft(self) -> np.ndarray:
        return self._look("Up")

    def eyeLookDownLeft(self) -> np.ndarray:
        return self._look("Down")

    def eyeLookInLeft(self) -> np.ndarray:
        return self._look("In")

    def eyeLookOutLeft(self) -> np.ndarray:
        return self._look("Out")

    # ---- jaw -----------------------------------------------------------------------------------
    def jawOpen(self) -> np.ndarray:
        j = JOINT_POSITIONS[2]
        rotated = rotate(self.v, j, "x", np.full(len(self.v), JAW_OPEN_ANGLE))
        return self.jaw_w[:, None] * (rotated - self.v)

    def _jaw_shift(self) -> np.ndarray:
        """Weights for sideways / forward jaw shifts: the chin goes, the sealed lips follow a quarter."""
        seal = self.close
        return self.jaw_w * (1 - 0.75 * seal) + 0.25 * seal * (1 - self.jaw_w)

    def _jaw_motion(self, turn_x: float, turn_z: float, shift) -> np.ndarray:
        """Rigid jaw motion (a small drop so the teeth clear, a swing, a shift) applied with shift weights."""
        j = JOINT_POSITIONS[2]
        n = len(self.v)
        moved = rotate(rotate(self.v, j, "x", np.full(n, turn_x)), j, "z", np.full(n, turn_z)) + np.asarray(shift)
        return self._jaw_shift()[:, None] * (moved - self.v)

    def jawForward(self) -> np.ndarray:
        return self._jaw_motion(0.025, 0.0, (0.0, -0.006, 0.0))

    def jawLeft(self) -> np.ndarray:
        return self._jaw_motion(0.02, 0.035, (0.002, 0.0, 0.0))  # chin swings to +X

    # ---- lips ----------------------------------------------------------------------------------
    def mouthClose(self) -> np.ndarray:
        """Bring the lips together over an open jaw: mouthClose + jawOpen closes the lip gap.

        jawOpen moves each lip-edge vertex by its jaw weight a times the full jaw swing D, so the gap
        from the upper to the lower partner is G = |1 - 2a| D. The upper lip drops straight down by
        CLOSE_UPPER of G's height and the lower lip comes up and forward to meet it, in front of the teeth.
        Like ARKit's, the key only makes sense over jawOpen: alone it pushes the lips into each other.
        """
        j = JOINT_POSITIONS[2]
        swing = rotate(self.v, j, "x", np.full(len(self.v), JAW_OPEN_ANGLE)) - self.v
        gap = np.abs(1 - 2 * self.low)[:, None] * swing
        drop = np.zeros_like(gap)
        drop[:, 2] = CLOSE_UPPER * gap[:, 2]
        upper = (self.low < 0.5)[:, None]
        return np.where(upper, drop, drop - gap) * self.close[:, None]

    def mouthFunnel(self) -> np.ndarray:
        lips = self.upper_lip + self.lower_lip
        x, z = self.v[:, 0], self.v[:, 2] - self.lip_mid[2]
        d = np.zeros_like(self.v)
        d[:, 0] = -0.22 * x * self.mouth_area
        d[:, 1] = -0.006 * self.mouth_area
        open_shape = np.clip(1 - (x / self.corner[0]) ** 2, 0, 1)
        d[:, 2] = (0.0028 * self.upper_lip - 0.0034 * self.lower_lip) * open_shape + 0.05 * z * lips
        return d

    def mouthPucker(self) -> np.ndarray:
        d = np.zeros_like(self.v)
        lips = self.upper_lip + self.lower_lip
        d[:, 0] = -0.38 * self.v[:, 0] * self.mouth_area
        d[:, 1] = -0.006 * self.mouth_area - 0.006 * lips
        d[:, 2] = -0.12 * (self.v[:, 2] - self.lip_mid[2]) * lips
        return d

    def mouthLeft(self) -> np.ndarray:
        area = gauss(self.v, self.lip_mid + np.array([0, 0.006, -0.002]), (0.04, 0.035, 0.03)) * self.face
        d = np.zeros_like(self.v)
        d[:, 0] = 0.008 * area
        d[:, 1] = 0.06 * self.v[:, 0] * area  # the leading corner wraps back round the teeth
        return d

    def _corner(self, radius: float = 0.016) -> np.ndarray:
        return gauss(self.v, self.corner, (radius,) * 3) * self.face * left_mask(self.v[:, 0])

    def mouthSmileLeft(self) -> np.ndarray:
        c = self._corner()
        cheek = gauss(self.v, self.corner + np.array([0.012, 0.004, 0.022]), (0.018, 0.016, 0.016))
        cheek *= self.face * left_mask(self.v[:, 0])
        return c[:, None] * (0.0042, 0.0035, 0.0068) + cheek[:, None] * (0.0008, -0.0018, 0.0032)

    def mouthFrownLeft(self) -> np.ndarray:
        return self._corner()[:, None] * (0.0015, 0.0, -0.0062)

    def mouthDimpleLeft(self) -> np.ndarray:
        return self._corner()[:, None] * (0.0028, 0.0042, 0.0004)

    def mouthStretchLeft(self) -> np.ndarray:
        c = self._corner(0.02)
        lower = self.lower_lip * left_mask(self.v[:, 0])
        return c[:, None] * (0.0062, 0.0018, -0.0025) + lower[:, None] * (0.0, 0.0, -0.0015)

    def mouthPressLeft(self) -> np.ndarray:
        side = left_mask(self.v[:, 0]) * (1 - smoothstep((self.v[:, 0] - self.corner[0]) / 0.012))
        d = np.zeros_like(self.v)
        d[:, 2] = -0.22 * self.press * side * (self.v[:, 2] - self.lip_mid[2])  # squeeze towards the line
        d[:, 1] = 0.0022 * self.lip_back * side  # and flatten them against the teeth
        return d

    def mouthLowerDownLeft(self) -> np.ndarray:
        w = self.lower_lip * left_mask(self.v[:, 0])
        w = np.maximum(w, 0.0)
        return w[:, None] * (0.0, -0.0012, -0.0062)

    def mouthUpperUpLeft(self) -> np.ndarray:
        w = self.upper_lip * left_mask(self.v[:, 0])
        return w[:, None] * (0.0, -0.0012, 0.0055)

    def _lip_roll(self, lower: bool) -> np.ndarray:
        w = self.lower_lip if lower else self.upper_lip
        sign = -1.0 if lower else 1.0
        pivot = self.lip_mid + np.array([0.0, 0.003, sign * 0.003])
        moved = rotate(self.v, pivot, "x", np.full(len(self.v), sign * 0.6))
        return w[:, None] * (moved - self.v)

    def mouthRollLower(self) -> np.ndarray:
        return self._lip_roll(lower=True)

    def mouthRollUpper(self) -> np.ndarray:
        return self._lip_roll(lower=False)

    def mouthShrugLower(self) -> np.ndarray:
        chin = gauss(self.v, self.lip_mid + np.array([0.0, 0.004, -0.014]), (0.026, 0.03, 0.016)) * self.face
        chin = np.maximum(chin * (1 - self.upper_lip), self.lower_lip)
        return (chin + self.upper_lip)[:, None] * (0.0, -0.0022, 0.0032)

    def mouthShrugUpper(self) -> np.ndarray:
        lips = self.upper_lip + self.lower_lip
        return lips[:, None] * (0.0, -0.0018, 0.0032)

    # ---- brows, cheeks, nose -------------------------------------------------------------------
    def browDownLeft(self) -> np.ndarray:
        w = gauss(self.v, (0.026, -0.082, 0.194), (0.024, 0.03, 0.016)) * self.brow * left_mask(self.v[:, 0])
        return w[:, None] * (-0.002, -0.001, -0.005)

    def browInnerUp(self) -> np.ndarray:
        ax = np.abs(self.v[:, 0])
        p = np.stack([ax, self.v[:, 1], self.v[:, 2]], axis=1)
        w = gauss(p, (0.014, -0.085, 0.198), (0.017, 0.03, 0.018)) * self.brow
        return w[:, None] * (0.0, 0.0, 0.0062)

    def browOuterUpLeft(self) -> np.ndarray:
        w = gauss(self.v, (0.045, -0.072, 0.194), (0.018, 0.03, 0.017)) * self.brow * left_mask(self.v[:, 0])
        return w[:, None] * (0.0, 0.0, 0.006)

    def cheekPuff(self) -> np.ndarray:
        ax = np.abs(self.v[:, 0])
        p = np.stack([ax, self.v[:, 1], self.v[:, 2]], axis=1)
        w = gauss(p, (0.040, -0.068, 0.112), (0.018, 0.022, 0.02)) * self.face
        d = w[:, None] * np.stack([0.0105 * np.sign(self.v[:, 0]), np.full(len(w), -0.004), np.zeros(len(w))], 1)
        return d + (self.upper_lip + self.lower_lip)[:, None] * (0.0, -0.0015, 0.0)

    def cheekSquintLeft(self) -> np.ndarray:
        w = gauss(self.v, (0.040, -0.068, 0.150), (0.018, 0.02, 0.013)) * self.face * left_mask(self.v[:, 0])
        return w[:, None] * (0.0, -0.0015, 0.0055)

    def noseSneerLeft(self) -> np.ndarray:
        w = gauss(self.v, (0.012, -0.098, 0.138), (0.011, 0.02, 0.014)) * self.face * left_mask(self.v[:, 0])
        lip = self.upper_lip * left_mask(self.v[:, 0])
        return w[:, None] * (0.0006, -0.001, 0.0058) + lip[:, None] * (0.0, 0.0, 0.0016)

    # ---- tongue --------------------------------------------------------------------------------
    def tongueOut(self) -> np.ndarray:
        """The jaw drops a little and the tongue slides forward over the lower teeth and lip."""
        tongue = self.h.part_mask("tongue")
        d = 0.45 * self.jawOpen() + 0.3 * self.mouthFunnel()
        t = self.v[tongue]
        front = smoothstep((t[:, 1].max() - t[:, 1]) / np.ptp(t[:, 1]))
        mid_z = t[:, 2].mean()
        slide = np.stack(
            [
                0.15 * t[:, 0] * front,
                -0.027 * (0.3 + 0.7 * front),
                0.011 * front**0.75 - 0.45 * front * (t[:, 2] - mid_z),
            ],
            axis=1,
        )
        d[tongue] += slide
        return d


def mirror_delta(delta: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    return delta[mirror] * np.array([-1.0, 1.0, 1.0])


def build_basis(head: Head, jaw_weight: np.ndarray) -> np.ndarray:
    """(52, V, 3) float32 basis in ARKIT_CHANNELS order."""
    kb = KeyBuilder(head, jaw_weight)
    basis = np.zeros((len(ARKIT_CHANNELS), len(head.vertices), 3))
    for c, name in enumerate(ARKIT_CHANNELS):
        if name.endswith("Right"):
            basis[c] = mirror_delta(getattr(kb, name[: -len("Right")] + "Left")(), head.mirror)
        else:
            basis[c] = getattr(kb, name)()
    basis[np.abs(basis) < 1e-7] = 0.0
    return basis.astype(np.float32)
