"""Linear blend skinning in numpy (FLAME/SMPL convention), batched over frames.

vertices = template + basis·weights (+ pose correctives driven by R − I of the non-root joints),
then every vertex is moved by the skin-weighted blend of its joints' rigid transforms. Joint
transforms chain axis-angle rotations along the parents; the joints sit at the rig's rest
positions, or are regressed from the shaped mesh when a joint regressor is given (FLAME).
:mod:`core.lbs_torch` is the same computation in torch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from core.errors import InputError
from core.rig import FaceRig

ROTATION_ALIASES: dict[str, str] = {"head": "global"}
"""Track rotation names (DESIGN §3) that drive a differently named joint."""


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (...,3) axis-angle → (...,3,3) rotation matrices."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*aa.shape[:-1], 3, 3)
    s = np.sin(angle)[..., None]
    c = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1.0 - c) * (k @ k)


def joint_transforms(rotations: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Skinning transforms (T,J,4,4) from rotations (T,J,3,3) about rest joints (T,J,3).

    Each joint's world transform chains its parent's; the result maps rest-pose points to posed
    points (the rest joint position is factored out), ready to blend with skin weights.
    """
    t, j = rotations.shape[:2]
    local = np.zeros((t, j, 4, 4), dtype=np.float64)
    local[..., :3, :3] = rotations
    local[..., 3, 3] = 1.0
    rel = joints.copy()
    rel[:, 1:] -= joints[:, parents[1:]]
    local[..., :3, 3] = rel
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    chain = np.stack(world, axis=1)
    skin = chain.copy()
    skin[..., :3, 3] -= np.einsum("tjab,tjb->tja", chain[..., :3, :3], joints)
    return skin


def lbs(
    vertices: np.ndarray,
    basis: np.ndarray,
    weights: np.ndarray,
    rotations: np.ndarray | None = None,
    *,
    parents: np.ndarray | None = None,
    skin_weights: np.ndarray | None = None,
    joint_positions: np.ndarray | None = None,
    joint_regressor: np.ndarray | None = None,
    pose_correctives: np.ndarray | None = None,
) -> np.ndarray:
    """Posed vertices (T,V,3) for channel weights (T,C) and joint rotations (T,J,3) axis-angle.

    Without rotations this is the linear basis only. Joints sit at ``joint_positions`` (J,3), or
    at ``joint_regressor`` (J,V) @ shaped vertices when a regressor is given.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != basis.shape[0]:
        raise InputError(f"weights must be (T,{basis.shape[0]}), got {w.shape}")
    shaped = vertices.astype(np.float64) + np.tensordot(w, basis.astype(np.float64), axes=([1], [0]))
    if rotations is None:
        return shaped
    if parents is None or skin_weights is None:
        raise InputError("posing joints needs parents and skin weights")
    rot = np.asarray(rotations, dtype=np.float64)
    n_joints = len(parents)
    if rot.shape != (w.shape[0], n_joints, 3):
        raise InputError(f"rotations must be (T={w.shape[0]},J={n_joints},3), got {rot.shape}")
    mats = axis_angle_to_matrix(rot)
    if joint_regressor is not None:
        joints = np.einsum("jv,tvc->tjc", joint_regressor.astype(np.float64), shaped)
    elif joint_positions is not None:
        joints = np.broadcast_to(joint_positions.astype(np.float64), (w.shape[0], n_joints, 3)).copy()
    else:
        raise InputError("posing joints needs joint positions or a joint regressor")
    if pose_correctives is not None:
        feature = (mats[:, 1:] - np.eye(3)).reshape(w.shape[0], -1)
        shaped = shaped + np.tensordot(feature, pose_correctives.astype(np.float64), axes=([1], [0]))
    skin = joint_transforms(mats, joints, np.asarray(parents))
    blended = np.einsum("vj,tjab->tvab", skin_weights.astype(np.float64), skin[:, :, :3, :])
    return np.einsum("tvab,tvb->tva", blended[..., :3, :3], shaped) + blended[..., :3, 3]


def rotation_array(rig: FaceRig, rotations: Mapping[str, np.ndarray] | None, frames: int) -> np.ndarray:
    """(T,J,3) axis-angle from a {name: (T,3)} mapping (track naming; ``head`` drives ``global``)."""
    out = np.zeros((frames, len(rig.joint_names), 3), dtype=np.float64)
    for name, values in (rotations or {}).items():
        joint = name if name in rig.joint_names else ROTATION_ALIASES.get(name, name)
        if joint not in rig.joint_names:
            raise InputError(
                f"rig '{rig.name}' has no joint '{name}'; its joints are: {', '.join(rig.joint_names) or 'none'}"
            )
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (frames, 3):
            raise InputError(f"rotation '{name}' must be ({frames},3), got {v.shape}")
        out[:, rig.joint_names.index(joint)] = v
    return out


def pose_rig(
    rig: FaceRig,
    weights: np.ndarray,
    rotations: Mapping[str, np.ndarray] | None = None,
    joint_regressor: np.ndarray | None = None,
) -> np.ndarray:
    """Pose ``rig``: weights (C,) or (T,C), rotations {joint: (T,3)} → (V,3) or (T,V,3) float32."""
    w = np.asarray(weights, dtype=np.float64)
    single = w.ndim == 1
    w = w[None] if single else w
    rot = None
    if rig.has_joints and (rotations or joint_regressor is not None):
        rot = rotation_array(rig, rotations, w.shape[0])
    elif rotations:
        raise InputError(f"rig '{rig.name}' has no joints to rotate")
    out = lbs(
        rig.vertices,
        rig.basis,
        w,
        rot,
        parents=rig.joint_parents,
        skin_weights=rig.skin_weights,
        joint_positions=rig.joint_positions,
        joint_regressor=joint_regressor,
        pose_correctives=rig.pose_correctives,
    ).astype(np.float32)
    return out[0] if single else out
