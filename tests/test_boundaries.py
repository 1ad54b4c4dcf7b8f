"""DESIGN §1 boundaries, checked on the source of every module:

- the add-on imports only bpy, numpy and the standard library;
- core imports none of the packages above it (bench, cli, server, meshes, the add-on) and no Blender module;
- meshes builds on core only; the server imports neither the add-on nor the command line nor the benches;
- only the command line and its benches (cli/, bench/: `mouthpiece bench bake` times the add-on's bake)
  import the add-on.
"""

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


OURS = {"core", "meshes", "server", "cli", "bench", "blender_addon"}
FORBIDDEN: dict[str, set[str]] = {
    "core": (OURS - {"core"}) | BLENDER_MODULES,
    "meshes": {"server", "cli", "bench", "blender_addon"} | BLENDER_MODULES,
    "server": {"cli", "bench", "blender_addon", "meshes"} | BLENDER_MODULES,
}


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "path"),
    [(package, path) for package in FORBIDDEN for path in sources(package)],
    ids=lambda value: value if isinstance(value, str) else str(value.relative_to(REPO)),
)
def test_packages_import_only_downwards(package: str, path: Path) -> None:
    forbidden = imported_roots(path) & FORBIDDEN[package]
    assert not forbidden, f"{path.relative_to(REPO)} imports {forbidden}"


def test_only_the_command_line_and_benches_import_the_addon() -> None:
    importers = {
        path.relative_to(REPO).parts[0]
        for package in OURS - {"blender_addon"}
        for path in sources(package)
        if "blender_addon" in imported_roots(path)
    }
    assert importers == {"cli", "bench"}


def test_the_checks_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom core.track import Track\nfrom . import wire\n")
    assert imported_roots(bad) == {"torch", "core"}
