"""The torch device a user asked for: ``cpu``, ``cuda`` (or ``cuda:N``) or ``auto``."""

from __future__ import annotations

import torch

from core.errors import InputError


def resolve_device(device: str | None) -> torch.device:
    """``auto`` (or None) picks CUDA when torch sees a GPU; asking for an absent GPU is a clear error."""
    name = device or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise InputError(f"device must be cpu, cuda or auto, not '{name}'") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InputError(f"device must be cpu, cuda or auto, not '{name}'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device '{name}' was asked for, but torch sees no CUDA GPU; use --device cpu")
    return resolved
