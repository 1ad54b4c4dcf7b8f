"""Operators of the Mouthpiece sidebar: server, Add Head, Generate (modal), takes, mappings, preview,
Render Portrait Video (modal). They are thin: the server link (server_link.py), the takes (takes.py) and the
baking (bake.py) do the work."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from typing import TYPE_CHECKING

import bpy

from . import actions, mapping
from .bake import scene_fps
from .head import HEAD_NAMES, build_head, head_armature, head_ids
from .jobs import start_fetch, start_job, start_render
from .properties import OWN
from .server_link import (
    SERVER_START_SECONDS,
    Progress,
    client,
    preferences,
    refresh_server_in_background,
    server_connector,
    session,
    start_local_server,
    tag_redraw,
)
from .sound import place_movie
from .takes import (
    apply_track,
    audio_source,
    fill_bone_picks,
    job_params,
    mapping_fixes,
    plan_take,
    portrait_take,
    switch_take,
    target_problem,
    video_path,
)
from .wire import WireError, read_rig


class MOUTHPIECE_OT_check_server(bpy.types.Operator):
    bl_idname = "mouthpiece.check_server"
    bl_label = "Check Server"
    bl_description = "Ask the Mouthpiece server for its version, device and engines"

    def execute(self, context):
        checking = refresh_server_in_background(context)
        if bpy.app.background:  # scripts want the answer
            checking.join()
            if session().health is None:
                self.report({"WARNING"}, session().error)
        return {"FINISHED"}


class MOUTHPIECE_OT_start_server(bpy.types.Operator):
    bl_idname = "mouthpiece.start_server"
    bl_label = "Start Local Server"
    bl_description = "Run the server command from the add-on preferences and wait until it answers"

    def execute(self, context):
        error = start_local_server(context)
        if error:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        deadline = time.monotonic() + SERVER_START_SECONDS
        checking = [refresh_server_in_background(context)]

        def poll() -> float | None:  # ask again (off the main thread) until it answers
            if checking[0].is_alive():
                return 0.5
            if session().health is not None or time.monotonic() > deadline:
                tag_redraw(bpy.context)
                return None
            checking[0] = refresh_server_in_background(bpy.context)
            return 0.5

        bpy.app.timers.register(poll, first_interval=0.5)
        self.report({"INFO"}, "Starting the Mouthpiece server…")
        return {"FINISHED"}


if TYPE_CHECKING:
    _Operator = bpy.types.Operator  # what the job operators mix in with (report, bl_label, ...)
else:
    _Operator = object


class _ServerJobOperator(_Operator):
    """A job on the server driven by a worker thread (jobs.py): modal with a progress bar and Esc to cancel
    when invoked from the UI, synchronous (with a timeout) in background mode and from scripts. Subclasses
    say how to prepare (:meth:`_prepare`), start (:meth:`_start`) and use the result (:meth:`_finish`).
    Whatever happens, the operator ends with the panel ready for the next job."""

    job_id: str = ""
    bl_label: str = "Job"

    @classmethod
    def live(cls) -> Progress:
        """The session's live state of this kind of job, which the panel shows (one job of a kind at a time)."""
        return session().job

    @classmethod
    def poll(cls, context):
        """One job of a kind at a time (a subclass with its own state may ask more)."""
        return context.scene is not None and not cls.live().running

    def _prepare(self, context) -> bool:
        raise NotImplementedError

    def _start(self, context) -> tuple[threading.Thread, queue.Queue, threading.Event]:
        raise NotImplementedError

    def _finish(self, context, data: bytes) -> bool:
        raise NotImplementedError

    def _fail(self, message: str) -> bool:
        self.state.error = message
        self.report({"ERROR"}, message)
        return False

    def _finished(self, context, data: bytes) -> set[str]:
        """Use the result; an unexpected error is reported, never left to stop the add-on."""
        try:
            ok = self._finish(context, data)
        except Exception as exc:
            ok = self._fail(f"{self.bl_label} failed: {type(exc).__name__}: {exc}")
        return {"FINISHED"} if ok else {"CANCELLED"}

    def execute(self, context):
        """The synchronous path (background mode, scripts): wait for the job here, at most the preferences'
        Background Timeout (then the job is cancelled)."""
        self.state = self.live()
        self.state.error = self.state.status = ""
        if not self._prepare(context):
            return {"CANCELLED"}
        prefs = preferences(context)
        timeout = float(prefs.job_timeout) if prefs else 600.0
        thread, events, cancel = self._start(context)
        thread.join(timeout)
        if thread.is_alive():
            cancel.set()
            thread.join(10.0)
            self._fail(
                f"{self.bl_label} did not finish within {timeout:g} s and was cancelled; for long clips raise "
                "Background Timeout in the add-on preferences"
            )
            return {"CANCELLED"}
        while not events.empty():
            event = events.get()
            if event.kind == "job":
                self.job_id = event.text
            elif event.kind == "done":
                return self._finished(context, event.data)
            elif event.kind in ("error", "cancelled"):
                self._fail(event.text or "the job was cancelled")
                return {"CANCELLED"}
        return {"CANCELLED"}

    def invoke(self, context, _event):
        if bpy.app.background:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _begin(self, context) -> bool:
        """Prepare and start the worker, the timer and the progress bar; False (reported) when impossible."""
        self.state = self.live()
        self.state.error = self.state.status = ""
        if not self._prepare(context):
            return False
        self.thread, self.events, self.stop = self._start(context)
        self.state.running, self.state.progress, self.state.status = True, 0.0, "Uploading…"
        wm = context.window_manager
        self.timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        return True

    def _end(self, context) -> None:
        self.state.running = False
        wm = context.window_manager
        try:
            wm.event_timer_remove(self.timer)
            wm.progress_end()
        finally:
            tag_redraw(context)

    def modal(self, context, event):
        result = {"CANCELLED"}
        try:
            result = self._step(context, event)
        except Exception as exc:
            self.state.status = ""
            self._fail(f"{self.bl_label} failed: {type(exc).__name__}: {exc}")
        finally:
            if result & {"FINISHED", "CANCELLED"}:
                self._end(context)
        return result

    def _step(self, context, event) -> set[str]:
        if event.type == "ESC":
            if not self.stop.is_set():
                self.stop.set()
                self.state.status = "Cancelling…"
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        while not self.events.empty():
            ev = self.events.get()
            if ev.kind == "job":
                self.job_id = ev.text
            elif ev.kind == "progress":
                self.state.progress, self.state.status = ev.fraction, ev.text
                context.window_manager.progress_update(int(100 * ev.fraction))
            elif ev.kind == "done":
                return self._finished(context, ev.data)
            elif ev.kind == "cancelled":
                self.state.status = "Cancelled"
                self.report({"WARNING"}, f"{self.bl_label} cancelled")
                return {"CANCELLED"}
            elif ev.kind == "error":
                self.state.status = ""
                self._fail(ev.text)
                return {"CANCELLED"}
        tag_redraw(context)
        return {"RUNNING_MODAL"}


class GenerateJob(_ServerJobOperator):
    """Generate's steps: check the head and mapping, run the job (starting the server if asked), bake."""

    def _prepare(self, context) -> bool:
        obj = context.object
        problem = target_problem(obj)
        if problem:
            return self._fail(problem)
        try:
            self.audio_path, self.frame_start, self.add_sound = audio_source(context)
            self.plan = plan_take(context, obj)
        except ValueError as exc:
            return self._fail(str(exc))
        for warning in self.plan.warnings:
            self.report({"WARNING"}, warning)
        self.head_name = obj.name
        self.connect = server_connector(context)
        return True

    def _start(self, context):
        head = bpy.data.objects.get(self.head_name)
        params = job_params(context.scene.mouthpiece, head)
        return start_job(client(context), self.audio_path, params, self.connect)

    def _finish(self, context, data: bytes) -> bool:
        """Bake the finished track; False (with the error reported) when that is impossible."""
        obj = bpy.data.objects.get(self.head_name)
        if obj is None:
            return self._fail(f"the head '{self.head_name}' was deleted while the take was generated")
        problem = target_problem(obj)  # the artist may have changed it meanwhile
        if problem:
            return self._fail(problem)
        try:
            line = apply_track(context, obj, data, self.audio_path, self.frame_start, self.add_sound, self.job_id,
                               self.plan)  # fmt: skip
        except WireError as exc:
            return self._fail(f"the server sent a track this add-on cannot read: {exc}")
        except ValueError as exc:
            return self._fail(str(exc))
        self.state.status = line
        self.report({"INFO"}, line)
        return True


class MOUTHPIECE_OT_generate(GenerateJob, bpy.types.Operator):
    bl_idname = "mouthpiece.generate"
    bl_label = "Generate"
    bl_description = "Animate the active head from the audio on the server, as a new take (Esc cancels)"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute


class AddHeadJob(_ServerJobOperator):
    """Add Head's steps: download the rig off the main thread (starting the server if asked), build it."""

    def _prepare(self, context) -> bool:
        self.rig_name = context.scene.mouthpiece.rig
        self.connect = server_connector(context)
        return True

    def _start(self, context):
        rigs, name = client(context, timeout=120.0), self.rig_name
        return start_fetch(lambda: rigs.rig(name), f"the {name} head", self.connect)

    def _finish(self, context, data: bytes) -> bool:
        try:
            rig = read_rig(data)
        except WireError as exc:
            return self._fail(str(exc))
        obj = build_head(rig, name=HEAD_NAMES.get(self.rig_name, f"{self.rig_name} Head"))
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        self.state.status = f"Added {obj.name}: {len(rig.channels)} shape keys, {len(rig.joint_names)} bones"
        self.report({"INFO"}, self.state.status)
        return True


class MOUTHPIECE_OT_add_head(AddHeadJob, bpy.types.Operator):
    bl_idname = "mouthpiece.add_head"
    bl_label = "Add Head"
    bl_description = "Build the chosen head from the server's rig: mesh, shape keys, jaw/neck/eye bones (Esc cancels)"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute


class MOUTHPIECE_OT_render_portrait(_ServerJobOperator, bpy.types.Operator):
    bl_idname = "mouthpiece.render_portrait"
    bl_label = "Render Portrait Video"
    bl_description = (
        "Render a talking-portrait video of the active bfm take with the server's neural renderer and add it "
        "to the sequencer with its sound at the take's start frame (Esc cancels)"
    )
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def live(cls) -> Progress:
        return session().render

    @classmethod
    def poll(cls, context):
        if cls.live().running:
            cls.poll_message_set("a portrait video is being rendered")
            return False
        take, why = portrait_take(context.object)
        if take is None:
            cls.poll_message_set(why)
        return take is not None

    def _prepare(self, context) -> bool:
        take, why = portrait_take(context.object)
        if take is None:
            return self._fail(why)
        image = bpy.path.abspath(context.scene.mouthpiece.portrait_image)
        if not context.scene.mouthpiece.portrait_image:
            return self._fail("choose a portrait image first")
        if not os.path.isfile(image):
            return self._fail(f"portrait image not found: {image}")
        self.connect = server_connector(context)
        meta = actions.take_meta(take)
        self.image, self.source_job = image, str(take[actions.JOB_PROP])
        self.frame_start = int(meta.get("frame_start", context.scene.frame_start))
        self.take_name = take.name
        self.fps = scene_fps(context.scene)
        return True

    def _start(self, context):
        params = {"fps": round(self.fps, 6)}
        return start_render(client(context), self.image, self.source_job, params, self.connect)

    def _finish(self, context, data: bytes) -> bool:
        path = video_path(self.take_name)
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            return self._fail(f"cannot write the video to {path}: {exc.strerror}")
        movie, sound = place_movie(context.scene, path, self.frame_start, f"{self.take_name} video")
        line = f"{movie.name}: frames {int(movie.frame_final_start)}–{int(movie.frame_final_end) - 1} from {path}"
        if sound is None:
            line += " (no sound in the video)"
        self.state.status = line
        self.report({"INFO"}, line)
        return True


class MOUTHPIECE_OT_use_take(bpy.types.Operator):
    bl_idname = "mouthpiece.use_take"
    bl_label = "Use Take"
    bl_description = "Play a take (with its sound) on the active head, or 0 for your own animation"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    take: bpy.props.IntProperty(name="Take", description="Take number; 0: your own animation", default=0, min=0)

    @classmethod
    def poll(cls, context):
        return context.object is not None

    def execute(self, context):
        if self.take != OWN and self.take not in dict(actions.takes_of(context.object.name)):
            self.report({"ERROR"}, f"'{context.object.name}' has no take {self.take}")
            return {"CANCELLED"}
        switch_take(context, context.object, self.take)
        return {"FINISHED"}


class MOUTHPIECE_OT_suggest_bones(bpy.types.Operator):
    bl_idname = "mouthpiece.suggest_bones"
    bl_label = "Suggest Bones"
    bl_description = "Pick the head, neck, jaw and eye bones of the character's armature by their names"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def poll(cls, context):
        obj = context.object
        return obj is not None and obj.type == "MESH" and head_armature(obj) is not None

    def execute(self, context):
        picks = fill_bone_picks(context.scene.mouthpiece, head_armature(context.object))
        shown = ", ".join(f"{joint} → {name}" for joint, name in picks.items()) or "none found by name"
        self.report({"INFO"}, f"Bones: {shown}")
        return {"FINISHED"}


class MOUTHPIECE_OT_push_to_nla(bpy.types.Operator):
    bl_idname = "mouthpiece.push_to_nla"
    bl_label = "Push Take to NLA"
    bl_description = "Move the head's active take onto NLA tracks, to layer or sequence takes"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def poll(cls, context):
        return context.object is not None

    def execute(self, context):
        if not actions.push_to_nla(head_ids(context.object)):
            self.report({"WARNING"}, "the active head has no take assigned")
            return {"CANCELLED"}
        return {"FINISHED"}


def _preset_text_name(name: str) -> str:
    return f"Mouthpiece mapping {name}.json"


class MOUTHPIECE_OT_edit_mapping(bpy.types.Operator):
    bl_idname = "mouthpiece.edit_mapping"
    bl_label = "Edit Mapping"
    bl_description = "Open the name-mapping preset as a text (edit it in the Text Editor, then Save Mapping)"

    def execute(self, context):
        name = context.scene.mouthpiece.mapping_preset
        preset = mapping.load_preset(name)
        text = bpy.data.texts.get(_preset_text_name(name)) or bpy.data.texts.new(_preset_text_name(name))
        text.from_string(json.dumps(preset, indent=2) + "\n")
        self.report({"INFO"}, f"Edit the text '{text.name}' in a Text Editor, then press Save Mapping")
        return {"FINISHED"}


class MOUTHPIECE_OT_save_mapping(bpy.types.Operator):
    bl_idname = "mouthpiece.save_mapping"
    bl_label = "Save Mapping"
    bl_description = "Save the edited name-mapping text as a preset of your own (kept between sessions)"

    name: bpy.props.StringProperty(name="Preset Name", description="Saved presets override built-in ones")

    def invoke(self, context, _event):
        self.name = context.scene.mouthpiece.mapping_preset
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        source = context.scene.mouthpiece.mapping_preset
        text = bpy.data.texts.get(_preset_text_name(source))
        if text is None:
            self.report({"ERROR"}, "press Edit Mapping first, edit the text, then save it")
            return {"CANCELLED"}
        try:
            preset = mapping.parse_preset(text.as_string(), self.name)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        path = mapping.save_preset(self.name or source, preset)
        self.report({"INFO"}, f"Saved mapping preset to {path}")
        return {"FINISHED"}


class MOUTHPIECE_OT_fill_mapping_table(bpy.types.Operator):
    bl_idname = "mouthpiece.fill_mapping_table"
    bl_label = "Fill Mapping Table"
    bl_description = (
        "List every ARKit channel with the shape key the name mapping gives it, to fix names by hand "
        "(a row you set wins over the mapping)"
    )
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def poll(cls, context):
        obj = context.object
        return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None

    def execute(self, context):
        obj = context.object
        preset = mapping.with_fixes(mapping.load_preset(context.scene.mouthpiece.mapping_preset), mapping_fixes(obj))
        found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), [k.name for k in obj.data.shape_keys.key_blocks],
                                       preset)  # fmt: skip
        table = obj.mouthpiece.fixes
        table.clear()
        for channel in mapping.ARKIT_CHANNELS:
            row = table.add()
            row.channel, row.key = channel, found.get(channel, [""])[0]
        self.report({"INFO"}, f"{len(found)} of {len(table)} channels have a shape key; set the others by hand")
        return {"FINISHED"}


class MOUTHPIECE_OT_check_mapping(bpy.types.Operator):
    bl_idname = "mouthpiece.check_mapping"
    bl_label = "Check Mapping"
    bl_description = "Report which ARKit channels find a shape key on the active object"

    @classmethod
    def poll(cls, context):
        obj = context.object
        return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None

    def execute(self, context):
        preset = mapping.with_fixes(
            mapping.load_preset(context.scene.mouthpiece.mapping_preset), mapping_fixes(context.object)
        )
        keys = [k.name for k in context.object.data.shape_keys.key_blocks]
        channels = list(mapping.ARKIT_CHANNELS)
        found = mapping.match_channels(channels, keys, preset)
        missing = [c for c in channels if c not in found]
        message = f"{len(found)} of {len(channels)} ARKit channels found a shape key"
        if missing:
            message += "; missing: " + ", ".join(missing)
        warnings = mapping.mapping_warnings(channels, found)
        if warnings:
            message += "; " + "; ".join(warnings)
        self.report({"INFO"} if not missing and not warnings else {"WARNING"}, message)
        return {"FINISHED"}


class MOUTHPIECE_OT_render_preview(bpy.types.Operator):
    bl_idname = "mouthpiece.render_preview"
    bl_label = "Render Preview"
    bl_description = (
        "Render the frame range with Workbench to an .mp4 with the sound; your render settings come back after"
    )

    filepath: bpy.props.StringProperty(subtype="FILE_PATH", default="//preview.mp4")

    def execute(self, context):
        from .preview import preview_session, render_animation

        scene = context.scene
        path = bpy.path.abspath(self.filepath)
        obj = context.object if context.object is not None and context.object.type == "MESH" else None
        restore = preview_session(scene, obj, path, (640, 640), head_bone=scene.mouthpiece.bone_head)
        if bpy.app.background:  # scripts and blender -b: render here, then put everything back
            try:
                render_animation(scene)
            except RuntimeError as exc:
                self.report({"ERROR"}, f"Blender could not render the preview: {exc}")
                return {"CANCELLED"}
            finally:
                restore()
            self.report({"INFO"}, f"Rendered the preview to {path}")
            return {"FINISHED"}

        def done(*_args) -> None:
            for handlers in (bpy.app.handlers.render_complete, bpy.app.handlers.render_cancel):
                if done in handlers:
                    handlers.remove(done)
            bpy.app.timers.register(restore)  # not inside the render's own handler

        bpy.app.handlers.render_complete.append(done)
        bpy.app.handlers.render_cancel.append(done)
        bpy.ops.render.render("INVOKE_DEFAULT", animation=True)
        self.report({"INFO"}, f"Rendering the preview to {path}")
        return {"FINISHED"}


CLASSES = (
    MOUTHPIECE_OT_check_server,
    MOUTHPIECE_OT_start_server,
    MOUTHPIECE_OT_add_head,
    MOUTHPIECE_OT_generate,
    MOUTHPIECE_OT_use_take,
    MOUTHPIECE_OT_suggest_bones,
    MOUTHPIECE_OT_push_to_nla,
    MOUTHPIECE_OT_edit_mapping,
    MOUTHPIECE_OT_save_mapping,
    MOUTHPIECE_OT_fill_mapping_table,
    MOUTHPIECE_OT_check_mapping,
    MOUTHPIECE_OT_render_preview,
    MOUTHPIECE_OT_render_portrait,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
