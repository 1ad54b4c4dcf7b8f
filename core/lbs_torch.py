"""Linear blend skinning in torch: the computation of :mod:`core.lbs`, differentiable and batched.

Engines that produce FLAME parameters on a device use this; it agrees with the numpy path to
1e-5 (tests/core/test_lbs.py).
"""

from __future__ import annotations

import torch

from core.errors import InputError
from core.rig import FaceRig


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (...,3) axis-angle → (...,3,3) rotation matrices."""
    angle = torch.linalg.norm(axis_angle, dim=-1, keepdim=True)
    axis = axis_angle / angle.clamp_min(1e-12)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis_angle.shape[:-1], 3, 3)
    s = torch.sin(angle)[..., None]
    c = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(k)
    return eye + s * k + (1.0 - c) * (k @ k)


def joint_transforms(rotations: torch.Tensor, joints: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """Skinning transforms (T,J,4,4) from rotations (T,J,3,3) about rest joints (T,J,3)."""
    t, j = rotations.shape[:2]
    rel = torch.cat([joints[:, :1], joints[:, 1:] - joints[:, parents[1:]]], dim=1)
    bottom = torch.zeros(t, j, 1, 4, dtype=joints.dtype, device=joints.device)
    bottom[..., 3] = 1.0
    local = torch.cat([torch.cat([rotations, rel[..., None]], dim=-1), bottom], dim=-2)
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    chain = torch.stack(world, dim=1)
    offset = torch.einsum("tjab,tjb->tja", chain[..., :3, :3], joints)
    translation = chain[..., :3, 3] - offset
    return torch.cat([torch.cat([chain[..., :3, :3], translation[..., None]], dim=-1), bottom], dim=-2)


def lbs(
    vertices: torch.Tensor,
    basis: torch.Tensor,
    weights: torch.Tensor,
    rotations: torch.Tensor | None = None,
    *,
    parents: list[int] | None = None,
    skin_weights: torch.Tensor | None = None,
    joint_positions: torch.Tensor | None = None,
    joint_regressor: torch.Tensor | None = None,
    pose_correctives: torch.Tensor | None = None,
) -> torch.Tensor:
    """Posed vertices (T,V,3) for weights (T,C) and rotations (T,J,3); see :func:`core.lbs.lbs`."""
    if weights.ndim != 2 or weights.shape[1] != basis.shape[0]:
        raise InputError(f"weights must be (T,{basis.shape[0]}), got {tuple(weights.shape)}")
    shaped = vertices + torch.tensordot(weights, basis, dims=([1], [0]))
    if rotations is None:
        return shaped
    if parents is None or skin_weights is None:
        raise InputError("posing joints needs parents and skin weights")
    frames, n_joints = weights.shape[0], len(parents)
    if tuple(rotations.shape) != (frames, n_joints, 3):
        raise InputError(f"rotations must be (T={frames},J={n_joints},3), got {tuple(rotations.shape)}")
    mats = axis_angle_to_matrix(rotations)
    if joint_regressor is not None:
        joints = torch.einsum("jv,tvc->tjc", joint_regressor, shaped)
    elif joint_positions is not None:
        joints = joint_positions.expand(frames, n_joints, 3)
    else:
        raise InputError("posing joints needs joint positions or a joint regressor")
    if pose_correctives is not None:
        eye = torch.eye(3, dtype=mats.dtype, device=mats.device)
        feature = (mats[:, 1:] - eye).reshape(frames, -1)
        shaped = shaped + torch.tensordot(feature, pose_correctives, dims=([1], [0]))
    skin = joint_transforms(mats, joints, list(parents))
    blended = torch.einsum("vj,tjab->tvab", skin_weights, skin[:, :, :3, :])
    return torch.einsum("tvab,tvb->tva", blended[..., :3], shaped) + blended[..., 3]


def rig_tensors(
    rig: FaceRig, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> dict[str, torch.Tensor | list[int] | None]:
    """The rig's arrays as tensors, keyed like :func:`lbs`'s arguments."""

    def tensor(a: object) -> torch.Tensor | None:
        return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)

    return {
        "vertices": tensor(rig.vertices),
        "basis": tensor(rig.basis),
        "parents": None if rig.joint_parents is None else [int(p) for p in rig.joint_parents],
        "skin_weights": tensor(rig.skin_weights),
        "joint_positions": tensor(rig.joint_positions),
        "pose_correctives": tensor(rig.pose_correctives),
    }
