"""Match track channels (ARKit names) to a character's shape keys through editable presets.

A preset is JSON: ``{"name", "description", "strip_prefixes": [...], "strip_suffixes": [...],
"names": {channel: [key, ...]}}``; its id is its file name. A shape key of exactly the channel's name wins,
then the preset's vendor names, then a key whose name is the same after normalising case, separators,
camelCase and Left/Right/L/R sides (``jawOpen`` = ``Jaw_Open`` = ``JAW-OPEN``, ``eyeBlinkLeft`` =
``EyeBlink_L`` = ``L_eyeBlink``), once a vendor prefix or suffix is stripped. Rows of a character's mapping
table (``"fixed"``: {channel: key}, set by hand) come before all of these.
"""

from __future__ import annotations

import json
import os
import re
import zlib
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


def preset_number(name: str) -> int:
    """A preset's stable enum number (its id's CRC): the scene keeps the same preset when others are added."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def preset_label(path: Path, name: str) -> str:
    """The preset's display name (its "name"), or its id when the file cannot be read."""
    try:
        label = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return name
    return str(label) if label else name


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
    suffixes = preset.get("strip_suffixes", [])

    def stripped(key: str) -> str:
        for _ in range(len(prefixes)):  # prefixes may stack: Genesis8_1Female__facs_bs_...
            prefix = next((p for p in prefixes if re.match(p, key)), None)
            if prefix is None:
                break
            key = re.sub(prefix, "", key, count=1)
        for suffix in suffixes:
            key = re.sub(suffix, "", key, count=1)
        return key

    by_norm: dict[str, str] = {}
    for key in shape_keys:
        by_norm.setdefault(normalise(stripped(key)), key)
    explicit = preset.get("names", {})
    fixed = preset.get("fixed", {})
    result: dict[str, list[str]] = {}
    for channel in channels:
        named = [fixed[channel]] if fixed.get(channel) in present else []
        if not named and channel in present:
            named = [channel]
        if not named:
            named = [k for k in explicit.get(channel, []) if k in present]
        if not named and normalise(channel) in by_norm:
            named = [by_norm[normalise(channel)]]
        if named:
            result[channel] = named
    return result


def with_fixes(preset: dict, fixes: dict[str, str]) -> dict:
    """``preset`` with a character's mapping-table rows (channel → shape key), which win over everything."""
    return {**preset, "fixed": dict(fixes)}


_SIDE = re.compile(r"(Left|Right)$")


def mapping_warnings(channels: list[str], chosen: dict[str, list[str]]) -> list[str]:
    """What an artist should know before a take is made: one side of a left/right pair without a shape
    key, and shape keys that several channels drive (they get the channels' maximum)."""
    warnings = []
    for channel in channels:
        side = _SIDE.search(channel)
        if side is None or side.group(1) != "Left":
            continue
        other = channel[: side.start()] + "Right"
        if other in channels and (channel in chosen) != (other in chosen):
            found, lost = (channel, other) if channel in chosen else (other, channel)
            warnings.append(f"{found} drives '{chosen[found][0]}' but {lost} finds no shape key: that side moves alone")
    drivers: dict[str, list[str]] = {}
    for channel, keys in chosen.items():
        for key in keys:
            drivers.setdefault(key, []).append(channel)
    for key, several in drivers.items():
        if len(several) > 1:
            warnings.append(f"'{key}' is driven by {' and '.join(several)}: it gets their maximum")
    return warnings
