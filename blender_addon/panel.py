"""The View3D ▸ Sidebar ▸ Mouthpiece tab."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy

from .head import RETARGETS, head_armature, head_rig
from .server_link import engine_info, session
from .takes import portrait_take

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import IconItems

    _PanelBase = bpy.types.Panel  # what the panels mix in with
else:
    _PanelBase = object


class _Panel(_PanelBase):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mouthpiece"


def _wrapped(layout: bpy.types.UILayout, text: str, icon: IconItems = "NONE", width: int = 42) -> None:
    """A long message over several label lines (labels do not wrap)."""
    words, line, first = text.split(), "", True
    col = layout.column(align=True)
    for word in words:
        if line and len(line) + len(word) > width:
            col.label(text=line, icon=icon if first else "BLANK1")
            line, first = "", False
        line = f"{line} {word}".strip()
    if line:
        col.label(text=line, icon=icon if first else "BLANK1")


class MOUTHPIECE_UL_mapping(bpy.types.UIList):
    """The mapping table: each channel with a picker of the character's shape keys."""

    def draw_item(self, context, layout, _data, item, _icon, _active_data, _active_prop, _index=0, _flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.channel)
        keys = context.object.data.shape_keys if context.object is not None else None
        if keys is not None:
            row.prop_search(item, "key", keys, "key_blocks", text="")


class MOUTHPIECE_PT_main(_Panel, bpy.types.Panel):
    bl_label = "Mouthpiece"

    def draw(self, context):
        layout = self.layout
        health = session().health
        row = layout.row(align=True)
        if health:
            row.label(text=f"Server {health.get('version', '?')} · {health.get('device', '?')}", icon="CHECKMARK")
        else:
            row.label(text="Server not connected", icon="ERROR")
        row.operator("mouthpiece.check_server", text="", icon="FILE_REFRESH")
        if not health:
            if session().error:
                _wrapped(layout, session().error)
            layout.operator("mouthpiece.start_server", icon="PLAY")


class MOUTHPIECE_PT_head(_Panel, bpy.types.Panel):
    bl_label = "Head"
    bl_parent_id = "MOUTHPIECE_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        obj = context.object
        if obj is None:
            layout.label(text="No active object", icon="INFO")
        elif obj.type == "MESH" and obj.data.shape_keys is not None:
            keys = len(obj.data.shape_keys.key_blocks) - 1
            arm = head_armature(obj)
            extra = f", bones in '{arm.name}'" if arm else ""
            layout.label(text=f"{obj.name}: {keys} shape keys{extra}", icon="MESH_DATA")
        else:
            layout.label(text=f"'{obj.name}' has no shape keys to animate", icon="ERROR")
        row = layout.row(align=True)
        row.prop(settings, "rig", text="")
        row.operator("mouthpiece.add_head", icon="ADD")
        if obj is not None and obj.type == "MESH" and "mouthpiece_rig" not in obj:
            col = layout.column(align=True)
            row = col.row(align=True)
            row.prop(settings, "mapping_preset", text="Names")
            row.operator("mouthpiece.check_mapping", text="", icon="VIEWZOOM")
            row = col.row(align=True)
            row.operator("mouthpiece.edit_mapping", icon="TEXT")
            row.operator("mouthpiece.save_mapping", icon="FILE_TICK")
            if obj.data.shape_keys is not None:
                box = layout.box()
                row = box.row()
                row.label(text="Mapping table (a row you set wins)", icon="PRESET")
                row.operator("mouthpiece.fill_mapping_table", text="", icon="FILE_REFRESH")
                if len(obj.mouthpiece.fixes):
                    box.template_list("MOUTHPIECE_UL_mapping", "", obj.mouthpiece, "fixes", obj.mouthpiece,
                                      "fix_index", rows=6)  # fmt: skip
            arm = head_armature(obj)
            if arm is not None:
                box = layout.box()
                row = box.row()
                row.label(text=f"Bones keyed in '{arm.name}' (empty: none)", icon="BONE_DATA")
                row.operator("mouthpiece.suggest_bones", text="", icon="VIEWZOOM")
                col = box.column(align=True)
                for prop in ("bone_head", "bone_neck", "bone_jaw", "bone_eye_l", "bone_eye_r"):
                    col.prop_search(settings, prop, arm.data, "bones")


class MOUTHPIECE_PT_audio(_Panel, bpy.types.Panel):
    bl_label = "Audio"
    bl_parent_id = "MOUTHPIECE_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.row().prop(settings, "audio_source", expand=True)
        if settings.audio_source == "FILE":
            layout.prop(settings, "audio_file", text="")
            row = layout.row(align=True)
            row.prop(settings, "start_frame")
        else:
            layout.prop(settings, "audio_strip", text="")
        layout.prop(settings, "transcript", text="", placeholder="Transcript (optional)")


class MOUTHPIECE_PT_animation(_Panel, bpy.types.Panel):
    bl_label = "Animation"
    bl_parent_id = "MOUTHPIECE_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.prop(settings, "engine")
        if session().loading:
            layout.label(text="Loading the server's engines…", icon="TIME")
        info = engine_info(settings.engine)
        if info is not None and not info.get("ready", False):
            _wrapped(layout.box(), info.get("message") or "this engine is not available", icon="ERROR")
        obj = context.object
        rig = head_rig(obj) if obj is not None and obj.type == "MESH" else None
        if info and info.get("rig") and rig and rig != info["rig"]:
            if (info["rig"], rig) in RETARGETS:
                _wrapped(layout, f"{settings.engine} makes {info['rig']} takes: retargeted onto this {rig} head",
                         icon="INFO")  # fmt: skip
            else:
                _wrapped(layout, f"{settings.engine} animates {info['rig']} heads; the active head is {rig}",
                         icon="ERROR")  # fmt: skip
        options = (info or {}).get("options", {})
        col = layout.column()
        col.prop(settings, "emotion")
        col.prop(settings, "intensity", slider=True)
        if options.get("styles"):
            col.prop(settings, "style")
        if options.get("identities"):
            col.prop(settings, "identity")
        row = col.row()
        row.prop(settings, "head_motion")
        row.prop(settings, "blinks")
        if settings.head_motion:
            col.prop(settings, "head_motion_source", text="From")
            if settings.head_motion_source == "SADTALKER":
                col.prop(settings, "pose_style")
        if "loudness" in options.get("extra", {}):
            col.prop(settings, "loudness")
        col.prop(settings, "seed")
        box = layout.box()
        box.label(text="Keys", icon="KEYFRAME")
        col = box.column(align=True)
        for prop in ("gain_mouth", "gain_brows", "gain_eyes", "gain_head"):
            col.prop(settings, prop, slider=True)
        col = box.column()
        col.prop(settings, "time_offset")
        row = col.row(align=True)
        row.prop(settings, "reduce_keys")
        sub = row.row()
        sub.enabled = settings.reduce_keys
        sub.prop(settings, "key_tolerance", text="")

        ready = info is None or info.get("ready", False)
        job = session().job
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = ready and not job.running
        row.operator("mouthpiece.generate", icon="PLAY")
        if job.running:
            layout.progress(factor=job.progress, type="BAR", text=job.status or "Working…")
            layout.label(text="Esc cancels", icon="CANCEL")
        elif job.error:
            _wrapped(layout.box(), job.error, icon="ERROR")
        elif job.status:
            _wrapped(layout, job.status, icon="INFO")


class MOUTHPIECE_PT_takes(_Panel, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "MOUTHPIECE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads this class attribute

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.prop(settings, "take", text="Playing")
        layout.operator("mouthpiece.push_to_nla", icon="NLA_PUSHDOWN")
        layout.operator("mouthpiece.render_preview", icon="RENDER_ANIMATION")


class MOUTHPIECE_PT_portrait(_Panel, bpy.types.Panel):
    bl_label = "Portrait Video"
    bl_parent_id = "MOUTHPIECE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads this class attribute

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.mouthpiece, "portrait_image", text="")
        row = layout.row()
        row.scale_y = 1.4
        row.operator("mouthpiece.render_portrait", icon="FILE_MOVIE")
        take, why = portrait_take(context.object)
        render = session().render
        if render.running:
            layout.progress(factor=render.progress, type="BAR", text=render.status or "Rendering…")
            layout.label(text="Esc cancels", icon="CANCEL")
        elif render.error:
            _wrapped(layout.box(), render.error, icon="ERROR")
        elif take is None:
            _wrapped(layout, why, icon="INFO")
        elif render.status:
            _wrapped(layout, render.status, icon="INFO")


CLASSES = (
    MOUTHPIECE_UL_mapping,
    MOUTHPIECE_PT_main,
    MOUTHPIECE_PT_head,
    MOUTHPIECE_PT_audio,
    MOUTHPIECE_PT_animation,
    MOUTHPIECE_PT_takes,
    MOUTHPIECE_PT_portrait,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
