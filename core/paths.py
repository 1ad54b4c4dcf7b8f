"""Where Mouthpiece keeps user-provided models and server data."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

BUILTIN_HEAD_FILE = "arkit_head.npz"
"""The built-in head's asset, shipped in the ``meshes`` package (which generates it)."""


def home_dir() -> Path:
    """Root of Mouthpiece's per-user files (``$MOUTHPIECE_HOME``, default ``~/.mouthpiece``)."""
    return Path(os.environ.get("MOUTHPIECE_HOME", Path.home() / ".mouthpiece")).expanduser()


def models_dir() -> Path:
    """Folder for licensed assets and checkpoints (``$MOUTHPIECE_MODELS``, default ``<home>/models``)."""
    env = os.environ.get("MOUTHPIECE_MODELS")
    return Path(env).expanduser() if env else home_dir() / "models"


def data_dir() -> Path:
    """Folder for the server's job results (``$MOUTHPIECE_DATA``, default ``<home>/data``)."""
    env = os.environ.get("MOUTHPIECE_DATA")
    return Path(env).expanduser() if env else home_dir() / "data"


def builtin_head_path() -> Path | None:
    """The built-in head's asset in the installed ``meshes`` package (found, not imported); None without it."""
    spec = importlib.util.find_spec("meshes")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BUILTIN_HEAD_FILE
    return path if path.is_file() else None
