"""Build the Blender extension zip, dist/mouthpiece-<version>.zip, and validate it.

Checks the manifest as `blender --command extension validate` does (fields, types, formats), checks
that the add-on imports only bpy, numpy and the standard library, then runs Blender's own validator
(the bpy module's bundled extension CLI, or a `blender` on PATH) on the zip when one is available.

    python scripts/build_extension.py [--output DIR]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
MANIFEST = "blender_manifest.toml"
BLENDER_MODULES = {"bpy", "bpy_extras", "mathutils", "addon_utils", "bmesh", "gpu", "aud", "numpy"}
PERMISSIONS = {"files", "network", "clipboard", "camera", "microphone"}
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-+]+)?$")
EXCLUDE = re.compile(r"(^|/)(__pycache__/|\.)|\.(pyc|zip|tmp)$")


class BuildError(Exception):
    pass


def _short_text(value: object, field: str, limit: int = 64) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{field}: must be a non-empty string"]
    errors = []
    if len(value) > limit:
        errors.append(f"{field}: {len(value)} characters, at most {limit}")
    if value[-1] in ".!?,;:" and not value.endswith("..."):
        errors.append(f"{field}: must not end with punctuation '{value[-1]}'")
    return errors


def check_manifest(manifest: dict) -> list[str]:
    """Every problem Blender's validator would report for this manifest (empty when valid)."""
    errors = []
    for field in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                  "blender_version_min", "license"):  # fmt: skip
        if field not in manifest:
            errors.append(f"missing field '{field}'")
    if errors:
        return errors
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(manifest["id"])) or str(manifest["id"]).endswith("_"):
        errors.append(f"id: '{manifest['id']}' must be letters, digits and underscores, starting with a letter")
    for field in ("schema_version", "version", "blender_version_min", "blender_version_max"):
        if field in manifest and not SEMVER.match(str(manifest[field])):
            errors.append(f"{field}: '{manifest[field]}' is not a version like 1.2.3")
    if manifest["type"] not in ("add-on", "theme"):
        errors.append(f"type: '{manifest['type']}' must be 'add-on' or 'theme'")
    errors += _short_text(manifest["tagline"], "tagline")
    if not isinstance(manifest["name"], str) or not manifest["name"].strip():
        errors.append("name: must be a non-empty string")
    licenses = manifest["license"]
    if not isinstance(licenses, list) or not licenses or not all(str(x).startswith("SPDX:") for x in licenses):
        errors.append("license: must be a non-empty list of 'SPDX:...' identifiers")
    permissions = manifest.get("permissions", {})
    if not isinstance(permissions, dict):
        errors.append("permissions: must be a table of permission = reason")
    else:
        for key, reason in permissions.items():
            if key not in PERMISSIONS:
                errors.append(f"permissions: unknown permission '{key}' (known: {', '.join(sorted(PERMISSIONS))})")
            errors += _short_text(reason, f"permissions.{key}")
    tags = manifest.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.append("tags: must be a list of strings")
    return errors


def check_imports(addon: Path) -> list[str]:
    """Imports outside bpy, numpy and the standard library (DESIGN §1)."""
    allowed = set(sys.stdlib_module_names) | BLENDER_MODULES | {"__future__"}
    errors = []
    for path in sorted(addon.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                if name.split(".")[0] not in allowed:
                    errors.append(f"{path.relative_to(addon.parent)}:{node.lineno} imports '{name}'")
    return errors


def blender_validators() -> list[list[str]]:
    """Commands that run Blender's own `extension validate` (its argument is appended)."""
    commands = []
    spec = importlib.util.find_spec("bpy")
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            for cli in sorted(Path(base).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")):
                commands.append([sys.executable, str(cli), "validate"])
    blender = shutil.which("blender")
    if blender:
        commands.append([blender, "--factory-startup", "--command", "extension", "validate"])
    return commands


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def build(output_dir: Path, run_blender: bool = True) -> Path:
    manifest = tomllib.loads((ADDON / MANIFEST).read_text(encoding="utf-8"))
    errors = check_manifest(manifest) + check_imports(ADDON)
    if manifest.get("version") != pyproject_version():
        errors.append(f"manifest version {manifest.get('version')} differs from pyproject's {pyproject_version()}")
    if errors:
        raise BuildError("the extension is not valid:\n  " + "\n  ".join(errors))
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"mouthpiece-{manifest['version']}.zip"
    files = sorted(p for p in ADDON.rglob("*") if p.is_file() and not EXCLUDE.search(p.relative_to(ADDON).as_posix()))
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(ADDON).as_posix())
    if run_blender:
        for command in blender_validators():
            done = subprocess.run([*command, str(target)], capture_output=True, text=True)
            if done.returncode != 0:
                raise BuildError(f"Blender's validator refused {target.name}:\n{done.stdout}{done.stderr}")
            print(f"validated by {Path(command[1] if command[0] == sys.executable else command[0]).name}: "
                  f"{done.stdout.strip().splitlines()[-1] if done.stdout.strip() else 'ok'}")  # fmt: skip
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "dist", help="folder for the zip (default dist/)")
    parser.add_argument("--no-blender", action="store_true", help="skip Blender's own validator")
    args = parser.parse_args(argv)
    try:
        target = build(args.output, run_blender=not args.no_blender)
    except BuildError as exc:
        print(f"build_extension: {exc}", file=sys.stderr)
        return 1
    print(f"built {target} ({target.stat().st_size / 1024:.0f} KiB)")
    print("install: Blender ▸ Edit ▸ Preferences ▸ Get Extensions ▸ ⌄ ▸ Install from Disk…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
