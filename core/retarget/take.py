"""Retarget a take: a FLAME/BFM track → an ``arkit`` track on the built-in head's basis, and back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import InputError
from core.lbs import axis_angle_to_matrix
from core.retarget.cache import correspondence, motion_key, pair_key
from core.retarget.register import Correspondence
from core.retarget.solve import solve_bounded_smooth
from core.retarget.transfer import Transfer, build_transfer
from core.rig import FaceRig
from core.track import Track

JAW_AXIS = np.array([1.0, 0.0, 0.0])
"""The built-in head opens its jaw by a positive rotation about +X (its left)."""
PASS_ROTATIONS = ("head", "neck")
QUIET_CHANNELS = ("jawLeft", "jawRight", "jawForward", "mouthLeft", "mouthRight", "tongueOut")
"""Channels that together mimic others (jawLeft + jawRight drop the jaw like jawOpen; a face mesh
hardly shows the tongue): they get a larger L2 so that they move only when nothing else explains it."""


@dataclass(frozen=True)
class SolveSettings:
    """Regularisation: priors relative to the Gram matrix's mean diagonal, smoothness to each channel's."""

    l2: float = 1e-5
    smooth: float = 0.05
    quiet: float = 0.02  # extra L2 on QUIET_CHANNELS
    jaw_prior: float = 0.05  # jawOpen towards the source's jaw angle / the head's jawOpen angle
    eye_prior: float = 1.0  # eyeLook channels towards the source's eye rotations


@dataclass
class RigPair:
    """A source rig, the built-in head and everything per-take work reuses."""

    source: FaceRig
    target: FaceRig
    transfer: Transfer
    linear: np.ndarray  # (K,C) source channels → projected right-hand side
    jaw: dict[str, np.ndarray] = field(default_factory=dict)
    back: np.ndarray | None = None  # (K,K) ridge normal matrix for arkit → source

    @property
    def jaw_angle(self) -> float:
        return float(self.target.meta.get("jaw_open_angle", 0.34))


_PAIRS: dict[str, RigPair] = {}


def rig_pair(source: FaceRig, target: FaceRig, corr: Correspondence | None = None) -> RigPair:
    """The prepared pair: registration from the cache, projections computed once per process.

    ``corr`` overrides the registration (e.g. :func:`~core.retarget.register.self_correspondence`);
    such a pair is not kept.
    """
    if corr is not None:
        return _prepare(source, target, corr)
    key = f"{pair_key(source, target)}/{motion_key(source)}/{motion_key(target)}"  # same mesh, other basis: new pair
    if key not in _PAIRS:
        _PAIRS[key] = _prepare(source, target, correspondence(source, target))
    return _PAIRS[key]


def _prepare(source: FaceRig, target: FaceRig, corr: Correspondence) -> RigPair:
    tr = build_transfer(corr, target)
    ids = tr.source_ids
    e = source.basis[:, ids].astype(np.float64)  # (K,N,3)
    pair = RigPair(source, target, tr, linear=tr.project_basis(e))
    if source.has_joints and "jaw" in source.joint_names:
        assert source.skin_weights is not None and source.joint_positions is not None
        j = source.joint_names.index("jaw")
        wj = source.skin_weights[ids, j].astype(np.float64)
        rel = source.vertices[ids].astype(np.float64) - source.joint_positions[j]
        pw = tr.pulled * (tr.weights * wj)[:, None, None]
        pair.jaw = {
            "const": np.einsum("nac,nb->abc", pw, rel).reshape(9, -1),
            "coupling": np.einsum("nac,knb->abkc", pw, e).reshape(9, e.shape[0], -1),
            "back_const": np.einsum("kna,n,nb->abk", e, tr.weights * wj, rel).reshape(9, -1),
        }
        if source.pose_correctives is not None:
            pc = source.pose_correctives[9 * (j - 1) : 9 * j][:, ids].astype(np.float64)
            pair.jaw["correctives"] = tr.project_basis(pc)
            pair.jaw["back_correctives"] = np.einsum("pna,n,kna->pk", pc, tr.weights, e)
    ee = np.einsum("kna,n,lna->kl", e, tr.weights, e)
    pair.back = ee + 1e-6 * np.mean(np.diag(ee)) * np.eye(len(ee))
    return pair


def _source_values(track: Track, rig: FaceRig) -> np.ndarray:
    unknown = [c for c in track.channels if c not in rig.channels]
    if unknown:
        raise InputError(
            f"the take has channels the '{rig.name}' rig lacks ({', '.join(unknown[:3])}…); "
            "retarget it with the rig it was made for"
        )
    x = np.zeros((track.num_frames, len(rig.channels)))
    x[:, [rig.channels.index(c) for c in track.channels]] = track.values
    return x


def _eye_look(pair: RigPair) -> dict[str, tuple[float, int]]:
    """ARKit eyeLook direction → (angle, axis index) from the head's meta (left eye; right mirrors z)."""
    looks = pair.target.meta.get("eye_look", {})
    return {k: (float(a), "xyz".index(axis)) for k, (a, axis) in looks.items()}


def _eye_channels(pair: RigPair, eye: str, aa_target: np.ndarray) -> dict[str, np.ndarray]:
    side = "Left" if eye == "eye_L" else "Right"
    out = {}
    for direction, (angle, axis) in _eye_look(pair).items():
        a = angle if (side == "Left" or axis == 0) else -angle
        out[f"eyeLook{direction}{side}"] = np.clip(aa_target[:, axis] / a, 0.0, 1.0)
    return out


def to_arkit(track: Track, pair: RigPair, settings: SolveSettings | None = None) -> Track:
    """Solve the built-in head's 52 ARKit weights for a take on ``pair.source``."""
    s = settings or SolveSettings()
    tr, rot = pair.transfer, pair.transfer.corr.rotation
    x = _source_values(track, pair.source)
    rhs = x @ pair.linear
    channels = list(pair.target.channels)
    scale = float(np.mean(np.diag(tr.gram)))
    prior_w = np.full(len(channels), s.l2 * scale)
    prior_w[[channels.index(c) for c in QUIET_CHANNELS if c in channels]] += s.quiet * scale
    prior_a = np.zeros((track.num_frames, len(channels)))
    jaw_rot = track.rotations.get("jaw")
    if jaw_rot is not None and pair.jaw:
        rm = (axis_angle_to_matrix(jaw_rot) - np.eye(3)).reshape(-1, 9)
        rhs += rm @ pair.jaw["const"] + np.einsum("tp,tk,pkc->tc", rm, x, pair.jaw["coupling"])
        if "correctives" in pair.jaw:
            rhs += rm @ pair.jaw["correctives"]
        opening = (jaw_rot.astype(np.float64) @ rot.T) @ JAW_AXIS
        j = channels.index("jawOpen")
        prior_w[j] += s.jaw_prior * scale
        prior_a[:, j] = np.clip(opening / pair.jaw_angle, 0.0, 1.0)
    for eye in ("eye_L", "eye_R"):
        if eye in track.rotations:
            for name, curve in _eye_channels(pair, eye, track.rotations[eye].astype(np.float64) @ rot.T).items():
                c = channels.index(name)
                prior_w[c] += s.eye_prior * scale
                prior_a[:, c] = curve
    weights = solve_bounded_smooth(tr.gram, rhs, prior_w, prior_a, s.smooth)
    return Track(
        fps=track.fps,
        rig=pair.target.name,
        channels=channels,
        values=weights,
        rotations={k: v.astype(np.float64) @ rot.T for k, v in track.rotations.items() if k in PASS_ROTATIONS},
        translation=None if track.translation is None else tr.corr.scale * track.translation.astype(np.float64) @ rot.T,
        meta=_meta(track, pair),
    )


def from_arkit(track: Track, pair: RigPair) -> Track:
    """An ``arkit`` take → the source rig's channels (and FLAME's jaw/eye rotations) by least squares."""
    if not set(track.channels) & set(pair.target.channels):
        raise InputError("the take has no ARKit channels to retarget")
    w = np.zeros((track.num_frames, len(pair.target.channels)))
    for i, c in enumerate(pair.target.channels):
        if c in track.channels:
            w[:, i] = track.channel(c)
    rot = pair.transfer.corr.rotation
    rhs = w @ pair.linear.T  # Σ W Eᵀ (pulled w)
    rotations: dict[str, np.ndarray] = {}
    src = pair.source
    if pair.jaw:
        opening = w[:, pair.target.channels.index("jawOpen")] * pair.jaw_angle
        aa = (opening[:, None] * JAW_AXIS) @ rot  # target frame → source frame
        rm = (axis_angle_to_matrix(aa) - np.eye(3)).reshape(-1, 9)
        rhs -= rm @ pair.jaw["back_const"]
        if "back_correctives" in pair.jaw:
            rhs -= rm @ pair.jaw["back_correctives"]
        rotations["jaw"] = aa
    for eye in ("eye_L", "eye_R"):
        if src.has_joints and eye in src.joint_names:
            side = "Left" if eye == "eye_L" else "Right"
            aa_t = np.zeros((track.num_frames, 3))
            for direction, (angle, axis) in _eye_look(pair).items():
                a = angle if (side == "Left" or axis == 0) else -angle
                aa_t[:, axis] += a * w[:, pair.target.channels.index(f"eyeLook{direction}{side}")]
            rotations[eye] = aa_t @ rot
    assert pair.back is not None
    x = np.linalg.solve(pair.back, rhs.T).T
    for k in PASS_ROTATIONS:
        if k in track.rotations:
            rotations[k] = track.rotations[k].astype(np.float64) @ rot
    return Track(
        fps=track.fps,
        rig=src.name,
        channels=list(src.channels),
        values=x,
        rotations=rotations,
        translation=None
        if track.translation is None
        else track.translation.astype(np.float64) @ rot / pair.transfer.corr.scale,
        meta=_meta(track, pair),
    )


def _meta(track: Track, pair: RigPair) -> dict:
    corr = pair.transfer.corr
    return {
        **track.meta,
        "retargeted_from": track.rig,
        "retarget": {
            "method": "landmark-guided non-rigid ICP + local-frame displacement transfer + bounded LS",
            "scale": float(corr.scale),
            "rotation": corr.rotation.tolist(),
            "translation": [float(t) for t in corr.translation],
            "registration": {k: v for k, v in corr.stats.items() if isinstance(v, (int, float, bool))},
        },
    }


def retarget(
    track: Track,
    to: str,
    *,
    source: FaceRig | None = None,
    target: FaceRig | None = None,
    settings: SolveSettings | None = None,
) -> Track:
    """``track`` on rig ``to``: flame/bfm → arkit, or arkit → flame/bfm (``source`` names that rig).

    Rigs not given are loaded by id (:func:`core.rigs.load_rig`); the built-in head is the ARKit side.
    """
    from core.rigs import RIG_NAMES, load_rig

    if to not in RIG_NAMES:
        raise InputError(f"unknown rig '{to}'; choose one of: {', '.join(RIG_NAMES)}")
    if track.rig == to:
        return track
    head = target or load_rig("arkit")
    if to == "arkit":
        rig = source or load_rig(track.rig)
        return to_arkit(track, rig_pair(rig, head), settings)
    if track.rig != "arkit":
        raise InputError(f"retargeting runs through the ARKit head: {track.rig} → arkit → {to}, in two steps")
    rig = source or load_rig(to)
    return from_arkit(track, rig_pair(rig, head))


def check_rigs(source: str, to: str | None) -> None:
    """Fail before any engine runs when a retarget from ``source`` to ``to`` cannot be made."""
    from core.rigs import RIG_NAMES, load_rig

    if to is None or to == source:
        return
    if to not in RIG_NAMES:
        raise InputError(f"unknown rig '{to}'; choose one of: {', '.join(RIG_NAMES)}")
    if "arkit" not in (source, to):
        raise InputError(f"retargeting runs through the ARKit head: {source} → arkit → {to}, in two steps")
    load_rig(source if to == "arkit" else to)  # licensed rigs raise ModelMissingError saying what to do
