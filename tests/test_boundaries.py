"""DESIGN §1 boundaries, checked on the source: the add-on imports only bpy, numpy and the standard
library; core never imports bpy, the server or the add-on."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLENDER_MODULES = {"bpy", "mathutils", "bpy_extras", "aud", "gpu", "bmesh"}


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file (relative imports are the package's own)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((REPO / "blender_addon").rglob("*.py")), ids=lambda p: p.name)
def test_addon_imports_only_blender_numpy_and_stdlib(path: Path) -> None:
    allowed = BLENDER_MODULES | {"numpy", "__future__"} | set(sys.stdlib_module_names)
    assert imported_roots(path) <= allowed, f"{path.name} imports {imported_roots(path) - allowed}"


@pytest.mark.parametrize("path", sorted((REPO / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_blender_server_or_addon(path: Path) -> None:
    forbidden = imported_roots(path) & (BLENDER_MODULES | {"server", "blender_addon"})
    assert not forbidden, f"{path.relative_to(REPO)} imports {forbidden}"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom core.track import Track\nfrom . import wire\n")
    assert imported_roots(bad) == {"torch", "core"}
