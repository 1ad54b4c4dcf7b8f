"""Where Mouthpiece keeps user-provided models and server data."""

from __future__ import annotations

import os
from pathlib import Path


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
