"""The renderer's optional config file (official ``configs/renderer_conf.yaml`` layout, or JSON), read
without torch so the server can check a portrait's size before a render is queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import InputError


def read_model_config(path: str | Path | None) -> dict[str, Any]:
    """The renderer config file as a dict ({} for None)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"renderer config not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read renderer config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a renderer config is a mapping like configs/renderer_conf.yaml")
    return data
