"""Match track channels (ARKit names) to a character's shape keys through editable presets.

A preset is JSON: ``{"name", "description", "strip_prefixes": [...], "names": {channel: [key, ...]}}``.
Explicit names win; otherwise a channel matches a shape key whose name is the same after
normalising case, separators, camelCase and Left/Right/L/R sides (``jawOpen`` = ``Jaw_Open`` =
``JAW-OPEN``, ``eyeBlinkLeft`` = ``EyeBlink_L`` = ``L_eyeBlink``), once a vendor prefix is stripped.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import bpy

ARKIT_CHANNELS: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
BUILTIN_DIR = Path(__file__).with_name("presets")
SIDES = {"left": "l", "right": "r", "l": "l", "r": "r", "lt": "l", "rt": "r"}
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def normalise(name: str) -> str:
    """A key that is equal for case, separator and side-spelling variants of one name."""
    tokens = [t.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for t in _CAMEL.findall(part)]
    side = [SIDES[t] for t in tokens if t in SIDES]
    body = [t for t in tokens if t not in SIDES]
    return "".join(body) + (side[-1] if side else "")


def user_dir() -> Path:
    """Where saved presets live: the extension's user folder, or Blender's config folder."""
    try:
        return Path(bpy.utils.extension_path_user(__package__, path="presets", create=True))
    except (ValueError, AttributeError):  # not installed as an extension (bpy module, legacy add-on)
        path = Path(bpy.utils.user_resource("CONFIG", path="mouthpiece_presets", create=True))
        path.mkdir(parents=True, exist_ok=True)
        return path


def preset_files() -> dict[str, Path]:
    """Preset name → file; a saved preset of the same name overrides the built-in one."""
    files = {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.json"))}
    user = user_dir()
    files.update({p.stem: p for p in sorted(user.glob("*.json"))})
    return files


def load_preset(name: str) -> dict:
    files = preset_files()
    if name not in files:
        raise KeyError(f"no mapping preset '{name}'; presets: {', '.join(files)}")
    return parse_preset(files[name].read_text(encoding="utf-8"), name)


def parse_preset(text: str, name: str) -> dict:
    """Check a preset's JSON, raising ValueError with what is wrong."""
    try:
        preset = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"mapping preset '{name}' is not valid JSON: {exc}") from None
    if not isinstance(preset, dict) or not isinstance(preset.get("names", {}), dict):
        raise ValueError(f"mapping preset '{name}' must be an object with a 'names' object")
    for channel, keys in preset.get("names", {}).items():
        if isinstance(keys, str):
            preset["names"][channel] = [keys]
        elif not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ValueError(f"mapping preset '{name}': '{channel}' must name a shape key or a list of them")
    return preset


def save_preset(name: str, preset: dict) -> Path:
    """Write ``preset`` to the user preset folder as ``name.json``."""
    safe = re.sub(r"[^A-Za-z0-9_.\- ]", "_", name).strip() or "preset"
    path = user_dir() / f"{safe}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(preset, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def match_channels(channels: list[str], shape_keys: list[str], preset: dict | None = None) -> dict[str, list[str]]:
    """Channel → the shape keys it drives (channels with no match are left out)."""
    preset = preset or {}
    present = set(shape_keys)
    prefixes = sorted(preset.get("strip_prefixes", []), key=len, reverse=True)

    def stripped(key: str) -> str:
        for prefix in prefixes:
            if re.match(prefix, key):
                return re.sub(prefix, "", key, count=1)
        return key

    by_norm: dict[str, str] = {}
    for key in shape_keys:
        by_norm.setdefault(normalise(stripped(key)), key)
    explicit = preset.get("names", {})
    result: dict[str, list[str]] = {}
    for channel in channels:
        named = [k for k in explicit.get(channel, []) if k in present]
        if not named and normalise(channel) in by_norm:
            named = [by_norm[normalise(channel)]]
        if named:
            result[channel] = named
    return result
