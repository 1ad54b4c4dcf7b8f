"""The add-on offers every engine on every head: a take of another rig asks the server to retarget it."""

from __future__ import annotations

import bpy

from blender_addon.head import build_head
from blender_addon.server_link import session
from blender_addon.takes import job_params
from blender_addon.wire import read_rig

from .conftest import enabled_addon, grid_rig
from .test_addon import CheckingLayout

ENGINES = [
    {"name": "builtin", "ready": True, "rig": "arkit", "options": {}},
    {"name": "emote", "ready": True, "rig": "flame", "options": {}},
    {"name": "styletalk", "ready": True, "rig": "bfm", "options": {}},
]


def _character() -> bpy.types.Object:
    """A user's character: a mesh with ARKit-named shape keys, not built by Mouthpiece."""
    mesh = bpy.data.meshes.new("Character")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 0, 1)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("Character", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for name in ("jawOpen", "mouthSmileLeft"):
        obj.shape_key_add(name=name)
    return obj


def _animation_panel_log() -> str:
    class Panel:
        layout: CheckingLayout

    log: list[str] = []
    panel = Panel()
    panel.layout = CheckingLayout(log)
    bpy.types.MOUTHPIECE_PT_animation.draw(panel, bpy.context)
    return " ".join(log)


def test_engines_of_other_rigs_are_retargeted_onto_the_head(scene):
    with enabled_addon():
        session().engines = ENGINES
        settings = scene.mouthpiece
        character = _character()
        bpy.context.view_layer.objects.active = character
        for engine, rig in (("builtin", None), ("emote", "arkit"), ("styletalk", "arkit")):
            settings.engine = engine
            assert job_params(settings, character).get("rig") == rig, engine
        settings.engine = "emote"
        assert "emote makes flame takes: retargeted onto this arkit head" in _animation_panel_log()

        flame = build_head(read_rig(grid_rig(name="flame").to_npz_bytes()), name="FLAME Head")
        bpy.context.view_layer.objects.active = flame
        settings.engine = "builtin"
        assert job_params(settings, flame)["rig"] == "flame"
        settings.engine = "styletalk"  # bfm → flame would take two steps: not offered as a retarget
        assert "rig" not in job_params(settings, flame)
        assert "styletalk animates bfm heads; the active head is flame" in _animation_panel_log()
