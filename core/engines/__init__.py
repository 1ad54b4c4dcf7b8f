"""Engines: audio (16 kHz mono float32) + options → Track. Imported lazily by name."""

from __future__ import annotations

import importlib
from typing import Any

from core.engines.base import Engine, EngineOptions, ProgressFn
from core.errors import InputError

# name → "module:factory"; modules are imported only when the engine is asked for, so the
# builtin path never imports torch.
ENGINES: dict[str, str] = {
    "builtin": "core.engines.builtin:BuiltinEngine",
    "emote": "core.engines.emote:EmoteEngine",
    "styletalk": "core.engines.styletalk.engine:StyleTalkEngine",
    "sadtalker": "core.engines.sadtalker.engine:SadTalkerEngine",
}


def engine_names() -> list[str]:
    return list(ENGINES)


def get_engine(name: str, **config: Any) -> Engine:
    """Build the engine called ``name`` (config: model paths, device)."""
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    module_name, _, factory = ENGINES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("core.engines"):
            raise InputError(f"engine '{name}' is not part of this installation yet") from None
        raise
    return getattr(module, factory)(**config)


__all__ = ["ENGINES", "Engine", "EngineOptions", "ProgressFn", "engine_names", "get_engine"]
