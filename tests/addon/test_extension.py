"""The extension zip: it builds, Blender's validator accepts it, and Blender installs and enables it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
build_extension = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_extension)

INSTALL = """
import sys, bpy
assert bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default",
                                                enable_on_install=True) == {"FINISHED"}
assert "bl_ext.user_default.mouthpiece" in bpy.context.preferences.addons
assert hasattr(bpy.types.Scene, "mouthpiece") and hasattr(bpy.types, "MOUTHPIECE_PT_main")
prefs = bpy.context.preferences.addons["bl_ext.user_default.mouthpiece"].preferences
from bl_ext.user_default.mouthpiece import mapping
print("OK", prefs.server_url, mapping.user_dir())
"""


def test_zip_builds_and_validates(tmp_path):
    target = build_extension.build(tmp_path / "dist")  # runs Blender's own validator too
    assert target.name == "mouthpiece-0.1.0.zip"
    names = set(zipfile.ZipFile(target).namelist())
    assert {"blender_manifest.toml", "__init__.py", "bake.py", "presets/arkit.json"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert build_extension.blender_validators(), "the bpy module's extension validator was not found"


@pytest.mark.slow
def test_blender_installs_and_enables_the_zip(tmp_path):
    target = build_extension.build(tmp_path / "dist", run_blender=False)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender"))
    done = subprocess.run([sys.executable, "-c", INSTALL, str(target)], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"OK http://127.0.0.1:8765 {tmp_path / 'blender'}" in done.stdout


def test_manifest_checks_catch_what_blender_refuses():
    good = {
        "schema_version": "1.0.0", "id": "mouthpiece", "version": "0.1.0", "name": "Mouthpiece",
        "tagline": "Speech-driven face animation", "maintainer": "x", "type": "add-on",
        "blender_version_min": "4.2.0", "license": ["SPDX:MIT"], "permissions": {"network": "Talks to the server"},
    }  # fmt: skip
    assert build_extension.check_manifest(good) == []
    bad = dict(good, id="mouth-piece", version="0.1", tagline="Ends with a period.", license=["MIT"],
               permissions={"network": "x" * 70, "internet": "why"})  # fmt: skip
    errors = "\n".join(build_extension.check_manifest(bad))
    for expected in ("id:", "version:", "tagline: must not end with punctuation", "license:",
                     "permissions.network: 70 characters", "unknown permission 'internet'"):  # fmt: skip
        assert expected in errors
    assert build_extension.check_manifest({"id": "x"})[0] == "missing field 'schema_version'"


def test_addon_imports_only_bpy_numpy_and_stdlib(tmp_path):
    assert build_extension.check_imports(ROOT / "blender_addon") == []
    bad = tmp_path / "addon"
    bad.mkdir()
    (bad / "x.py").write_text("import json\nimport numpy as np\nfrom core.track import Track\nimport torch\n")
    assert build_extension.check_imports(bad) == ["addon/x.py:3 imports 'core.track'", "addon/x.py:4 imports 'torch'"]


@pytest.mark.parametrize("name", ["arkit", "cc4", "metahuman"])
def test_shipped_presets_are_valid(name):
    from blender_addon import mapping

    preset = mapping.parse_preset((ROOT / "blender_addon" / "presets" / f"{name}.json").read_text(), name)
    assert set(preset["names"]) <= set(mapping.ARKIT_CHANNELS)
