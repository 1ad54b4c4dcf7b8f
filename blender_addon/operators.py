"""Operators of the Mouthpiece sidebar: server, Add Head, Generate (modal), takes, mappings, preview,
Render Portrait Video (modal)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.parse

import bpy

from . import actions, mapping
from .bake import bake_track, scene_fps
from .client import Client, ServerError
from .head import HEAD_NAMES, RETARGETS, RIG_PROP, RIG_VERSION_PROP, build_head, head_ids, head_rig
from .jobs import start_job, start_render
from .properties import DEFAULT, JobState, RenderState, ServerCache, engine_info, preferences
from .sound import place_movie, place_sound, sound_strips, strip_filepath
from .wire import WireError, read_rig, read_track

DEFAULT_URL = "http://127.0.0.1:8765"
_server_process: subprocess.Popen | None = None


def client(context: bpy.types.Context, timeout: float = 30.0) -> Client:
    prefs = preferences(context)
    return Client(prefs.server_url if prefs else DEFAULT_URL, prefs.token if prefs else "", timeout)


def refresh_server(context: bpy.types.Context) -> bool:
    """Ask the server for its health (and, in the background, its engines); remember the answer
    or the error for the panel."""
    try:
        ServerCache.health = client(context, timeout=3.0).health()
    except ServerError as exc:
        ServerCache.health, ServerCache.error = None, str(exc)
        return False
    ServerCache.error = ""
    _refresh_engines(client(context, timeout=300.0))
    return True


def _refresh_engines(c: Client) -> None:
    """GET /v1/models can take a while the first time (the server loads engines): off the main thread."""

    def work() -> None:
        try:
            ServerCache.engines = c.models()
        except ServerError as exc:
            ServerCache.error = str(exc)
        finally:
            ServerCache.loading = False

    if bpy.app.background:
        work()
        return
    if ServerCache.loading:
        return
    ServerCache.loading = True
    threading.Thread(target=work, name="mouthpiece-models", daemon=True).start()

    def redraw_when_loaded() -> float | None:
        if ServerCache.loading:
            return 0.5
        _tag_redraw(bpy.context)
        return None

    bpy.app.timers.register(redraw_when_loaded, first_interval=0.5)


def _tag_redraw(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _ensure_server(context: bpy.types.Context) -> str | None:
    """None when a server answers (after auto-starting one if the preferences say so), else why not."""
    if refresh_server(context):
        return None
    prefs = preferences(context)
    if prefs and prefs.auto_start:
        error = start_local_server(context)
        if error:
            return error
        for _ in range(60):
            time.sleep(0.5)
            if refresh_server(context):
                return None
    return ServerCache.error


def start_local_server(context: bpy.types.Context) -> str | None:
    """Start the preferences' server command on the URL's port; returns an error message or None."""
    global _server_process
    if _server_process is not None and _server_process.poll() is None:
        return None
    prefs = preferences(context)
    url = urllib.parse.urlparse(prefs.server_url if prefs else DEFAULT_URL)
    command = shlex.split(prefs.server_command if prefs else "mouthpiece serve")
    if url.port:
        command += ["--port", str(url.port)]
    try:
        _server_process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    except OSError as exc:
        return (
            f"cannot run '{' '.join(command)}' ({exc.strerror}); install Mouthpiece and set the full path "
            "of its 'mouthpiece' command in the add-on preferences"
        )
    return None


class MOUTHPIECE_OT_check_server(bpy.types.Operator):
    bl_idname = "mouthpiece.check_server"
    bl_label = "Check Server"
    bl_description = "Ask the Mouthpiece server for its version, device and engines"

    def execute(self, context):
        if not refresh_server(context):
            self.report({"WARNING"}, ServerCache.error)
        _tag_redraw(context)
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
        deadline = time.monotonic() + 30.0

        def poll() -> float | None:
            if refresh_server(bpy.context) or time.monotonic() > deadline:
                _tag_redraw(bpy.context)
                return None
            return 0.5

        bpy.app.timers.register(poll, first_interval=0.5)
        self.report({"INFO"}, "Starting the Mouthpiece server…")
        return {"FINISHED"}


class MOUTHPIECE_OT_add_head(bpy.types.Operator):
    bl_idname = "mouthpiece.add_head"
    bl_label = "Add Head"
    bl_description = "Build the chosen head from the server's rig: mesh, shape keys, jaw/neck/eye bones"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    def execute(self, context):
        settings = context.scene.mouthpiece
        error = _ensure_server(context)
        if error:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        try:
            rig = read_rig(client(context, timeout=120.0).rig(settings.rig))
        except (ServerError, WireError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        obj = build_head(rig, name=HEAD_NAMES.get(settings.rig, f"{settings.rig} Head"))
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        self.report({"INFO"}, f"Added {obj.name}: {len(rig.channels)} shape keys, {len(rig.joint_names)} bones")
        return {"FINISHED"}


def job_params(settings, head=None) -> dict:
    """The job's params; for a ``head`` of another rig than the engine's, the rig to retarget onto."""
    params = {
        "engine": settings.engine,
        "emotion": settings.emotion,
        "intensity": round(float(settings.intensity), 4),
        "seed": int(settings.seed),
        "blinks": bool(settings.blinks),
        "head_motion": bool(settings.head_motion),
    }
    if settings.head_motion and settings.head_motion_source == "SADTALKER":
        params["head_motion"] = "sadtalker"
        params["pose_style"] = int(settings.pose_style)
    if settings.transcript.strip():
        params["transcript"] = settings.transcript.strip()
    if settings.style not in ("", DEFAULT):
        params["style"] = settings.style
    if settings.identity not in ("", DEFAULT):
        params["identity"] = settings.identity
    engine_rig = (engine_info(settings.engine) or {}).get("rig")
    if head is not None and (engine_rig, head_rig(head)) in RETARGETS:
        params["rig"] = head_rig(head)
    return params


def _audio(context) -> tuple[str, int, bool]:
    """(file, start frame, whether a sound strip must be added); raises ValueError saying what is missing."""
    settings = context.scene.mouthpiece
    if settings.audio_source == "STRIP":
        strip = next((s for s in sound_strips(context.scene) if s.name == settings.audio_strip), None)
        if strip is None:
            raise ValueError("choose a sound strip, or switch Audio to File")
        return strip_filepath(strip), int(strip.frame_start), False
    path = bpy.path.abspath(settings.audio_file)
    if not settings.audio_file:
        raise ValueError("choose an audio file first")
    if not os.path.isfile(path):
        raise ValueError(f"audio file not found: {path}")
    return path, int(settings.start_frame), True


def apply_track(context, obj, data: bytes, audio_path: str, frame_start: int, add_sound: bool, job_id: str = "") -> str:
    """Bake a downloaded track on ``obj`` (and place its sound) as a take that remembers ``job_id``;
    returns the report line.

    Raises ValueError when none of the track's channels finds a shape key on ``obj``."""
    track = read_track(data)
    names = [k.name for k in obj.data.shape_keys.key_blocks]
    if RIG_PROP in obj:  # a head built by Add Head: channels are its shape keys
        chosen = {c: [c] for c in track.channels if c in names}
    else:
        preset = mapping.load_preset(context.scene.mouthpiece.mapping_preset or "arkit")
        chosen = mapping.match_channels(track.channels, names, preset)
    if not chosen:
        raise ValueError(
            f"none of the track's {len(track.channels)} '{track.rig}' channels (e.g. {track.channels[0]}) "
            f"is a shape key of '{obj.name}'; choose an engine for this head, or a name mapping that fits it"
        )
    result = bake_track(obj, track, frame_start=frame_start, mapping=chosen)
    actions.tag_take(result.take, job_id, track.rig)
    if add_sound:
        place_sound(context.scene, audio_path, frame_start, name=f"{result.name} sound")
    line = f"{result.name}: frames {result.frame_start}–{result.frame_end}, {result.keyed_channels} channels"
    if result.missing_channels:
        shown = ", ".join(result.missing_channels[:6]) + ("…" if len(result.missing_channels) > 6 else "")
        line += f"; no shape key for {len(result.missing_channels)} ({shown})"
    expects, version = track.meta.get("expects_flame"), obj.get(RIG_VERSION_PROP)
    if expects and version and expects != f"FLAME {version}":
        line += f"; warning: this engine's parameters belong to {expects}, this head is FLAME {version}"
    return line


def _target_problem(obj) -> str | None:
    if obj is None:
        return "select the head to animate (or Add Head)"
    if obj.type != "MESH":
        return f"'{obj.name}' is not a mesh; select the head mesh"
    if obj.data.shape_keys is None:
        return f"'{obj.name}' has no shape keys; Add Head, or use a character with ARKit-named shape keys"
    return None


class _ServerJobOperator:
    """A job on the server driven by a worker thread (jobs.py): modal with a progress bar and Esc to cancel
    when invoked from the UI, synchronous in background mode and from scripts. Subclasses say how to
    prepare (:meth:`_prepare`), start (:meth:`_start`) and use the result (:meth:`_finish`)."""

    state: type = JobState
    job_id: str = ""

    def _prepare(self, context) -> bool:
        raise NotImplementedError

    def _start(self, context) -> tuple[threading.Thread, object, threading.Event]:
        raise NotImplementedError

    def _finish(self, context, data: bytes) -> bool:
        raise NotImplementedError

    def _fail(self, message: str) -> bool:
        self.state.error = message
        self.report({"ERROR"}, message)
        return False

    def execute(self, context):
        """The synchronous path (background mode, scripts): wait for the job here."""
        self.state.error = self.state.status = ""
        if not self._prepare(context):
            return {"CANCELLED"}
        thread, events, _cancel = self._start(context)
        thread.join()
        while not events.empty():
            event = events.get()
            if event.kind == "job":
                self.job_id = event.text
            elif event.kind == "done":
                return {"FINISHED"} if self._finish(context, event.data) else {"CANCELLED"}
            elif event.kind in ("error", "cancelled"):
                self._fail(event.text or "the job was cancelled")
                return {"CANCELLED"}
        return {"CANCELLED"}

    def invoke(self, context, _event):
        if bpy.app.background:
            return self.execute(context)
        self.state.error = self.state.status = ""
        if not self._prepare(context):
            return {"CANCELLED"}
        self.thread, self.events, self.cancel = self._start(context)
        self.state.running, self.state.progress, self.state.status = True, 0.0, "Uploading…"
        wm = context.window_manager
        self.timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _end(self, context, result: set[str]) -> set[str]:
        wm = context.window_manager
        wm.event_timer_remove(self.timer)
        wm.progress_end()
        self.state.running = False
        _tag_redraw(context)
        return result

    def modal(self, context, event):
        if event.type == "ESC":
            if not self.cancel.is_set():
                self.cancel.set()
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
                return self._end(context, {"FINISHED"} if self._finish(context, ev.data) else {"CANCELLED"})
            elif ev.kind == "cancelled":
                self.state.status = "Cancelled"
                self.report({"WARNING"}, f"{self.bl_label} cancelled")
                return self._end(context, {"CANCELLED"})
            elif ev.kind == "error":
                self.state.status = ""
                self._fail(ev.text)
                return self._end(context, {"CANCELLED"})
        _tag_redraw(context)
        return {"RUNNING_MODAL"}


class MOUTHPIECE_OT_generate(_ServerJobOperator, bpy.types.Operator):
    bl_idname = "mouthpiece.generate"
    bl_label = "Generate"
    bl_description = "Animate the active head from the audio on the server, as a new take (Esc cancels)"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def poll(cls, context):
        return context.scene is not None and not JobState.running

    def _prepare(self, context) -> bool:
        problem = _target_problem(context.object)
        if problem:
            return self._fail(problem)
        try:
            self.audio_path, self.frame_start, self.add_sound = _audio(context)
        except ValueError as exc:
            return self._fail(str(exc))
        error = _ensure_server(context)
        if error:
            return self._fail(error)
        self.head_name = context.object.name
        return True

    def _start(self, context):
        head = bpy.data.objects.get(self.head_name)
        return start_job(client(context), self.audio_path, job_params(context.scene.mouthpiece, head))

    def _finish(self, context, data: bytes) -> bool:
        """Bake the finished track; False (with the error reported) when that is impossible."""
        obj = bpy.data.objects.get(self.head_name)
        if obj is None:
            return self._fail(f"the head '{self.head_name}' was deleted while the take was generated")
        try:
            line = apply_track(context, obj, data, self.audio_path, self.frame_start, self.add_sound, self.job_id)
        except WireError as exc:
            return self._fail(f"the server sent a track this add-on cannot read: {exc}")
        except ValueError as exc:
            return self._fail(str(exc))
        JobState.status = line
        self.report({"INFO"}, line)
        return True


def portrait_take(obj) -> tuple[bpy.types.Action | None, str]:
    """The head's active take when the portrait renderer can render it, else (None, why not)."""
    if obj is None:
        return None, "select the head whose take to render"
    take = actions.current_take(head_ids(obj))
    if take is None:
        return None, f"'{obj.name}' has no active take; Generate one with a bfm engine (styletalk, sadtalker)"
    rig = take.get(actions.TRACK_RIG_PROP, "")
    if rig != "bfm":
        made = f"for the '{rig}' rig" if rig else "of unknown rig"
        return None, f"only bfm takes (styletalk, sadtalker) drive the portrait renderer; this take is {made}"
    if not take.get(actions.JOB_PROP):
        return None, "this take has no server job to render (it was not made by Generate)"
    return take, ""


def video_folder() -> str:
    """Where rendered videos go: beside the saved .blend, else the system's temporary folder."""
    base = bpy.path.abspath("//") if bpy.data.filepath else tempfile.gettempdir()
    folder = os.path.join(base, "mouthpiece_videos")
    os.makedirs(folder, exist_ok=True)
    return folder


class MOUTHPIECE_OT_render_portrait(_ServerJobOperator, bpy.types.Operator):
    bl_idname = "mouthpiece.render_portrait"
    bl_label = "Render Portrait Video"
    bl_description = (
        "Render a talking-portrait video of the active bfm take with the server's neural renderer and add it "
        "to the sequencer with its sound at the take's start frame (Esc cancels)"
    )
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute
    state = RenderState

    @classmethod
    def poll(cls, context):
        if RenderState.running:
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
        error = _ensure_server(context)
        if error:
            return self._fail(error)
        meta = actions.take_meta(take)
        self.image, self.source_job = image, str(take[actions.JOB_PROP])
        self.frame_start = int(meta.get("frame_start", context.scene.frame_start))
        self.take_name = take.name
        self.fps = scene_fps(context.scene)
        return True

    def _start(self, context):
        return start_render(client(context), self.image, self.source_job, {"fps": round(self.fps, 6)})

    def _finish(self, context, data: bytes) -> bool:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.take_name).strip("_") or "take"
        path = os.path.join(video_folder(), f"{safe}.mp4")
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            return self._fail(f"cannot write the video to {path}: {exc.strerror}")
        movie, sound = place_movie(context.scene, path, self.frame_start, f"{self.take_name} video")
        line = f"{movie.name}: frames {int(movie.frame_final_start)}–{int(movie.frame_final_end) - 1} from {path}"
        if sound is None:
            line += " (no sound in the video)"
        RenderState.status = line
        self.report({"INFO"}, line)
        return True


class MOUTHPIECE_OT_use_take(bpy.types.Operator):
    bl_idname = "mouthpiece.use_take"
    bl_label = "Use Take"
    bl_description = "Make the chosen take the active animation of the head"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute

    @classmethod
    def poll(cls, context):
        return context.object is not None and context.scene.mouthpiece.take not in ("", "0")

    def execute(self, context):
        actions.use_take(int(context.scene.mouthpiece.take), head_ids(context.object))
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


class MOUTHPIECE_OT_check_mapping(bpy.types.Operator):
    bl_idname = "mouthpiece.check_mapping"
    bl_label = "Check Mapping"
    bl_description = "Report which ARKit channels find a shape key on the active object"

    @classmethod
    def poll(cls, context):
        obj = context.object
        return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None

    def execute(self, context):
        preset = mapping.load_preset(context.scene.mouthpiece.mapping_preset)
        keys = [k.name for k in context.object.data.shape_keys.key_blocks]
        found = mapping.match_channels(list(mapping.ARKIT_CHANNELS), keys, preset)
        missing = [c for c in mapping.ARKIT_CHANNELS if c not in found]
        message = f"{len(found)} of {len(mapping.ARKIT_CHANNELS)} ARKit channels found a shape key"
        if missing:
            message += "; missing: " + ", ".join(missing)
        self.report({"INFO"} if not missing else {"WARNING"}, message)
        return {"FINISHED"}


class MOUTHPIECE_OT_render_preview(bpy.types.Operator):
    bl_idname = "mouthpiece.render_preview"
    bl_label = "Render Preview"
    bl_description = (
        "Render the frame range with Workbench to an .mp4 with the sound; your render settings come back after"
    )

    filepath: bpy.props.StringProperty(subtype="FILE_PATH", default="//preview.mp4")

    def execute(self, context):
        from .preview import frame_camera, restore_settings, setup_preview_render, snapshot_settings

        scene = context.scene
        snapshot = snapshot_settings(scene)
        setup_preview_render(scene, bpy.path.abspath(self.filepath), (640, 640))
        if scene.camera is None and context.object is not None:
            frame_camera(scene, context.object)

        def restore(*_args) -> None:
            restore_settings(scene, snapshot)
            for handlers in (bpy.app.handlers.render_complete, bpy.app.handlers.render_cancel):
                if restore in handlers:
                    handlers.remove(restore)

        bpy.app.handlers.render_complete.append(restore)
        bpy.app.handlers.render_cancel.append(restore)
        bpy.ops.render.render("INVOKE_DEFAULT", animation=True)
        self.report({"INFO"}, f"Rendering the preview to {bpy.path.abspath(self.filepath)}")
        return {"FINISHED"}


CLASSES = (
    MOUTHPIECE_OT_check_server,
    MOUTHPIECE_OT_start_server,
    MOUTHPIECE_OT_add_head,
    MOUTHPIECE_OT_generate,
    MOUTHPIECE_OT_use_take,
    MOUTHPIECE_OT_push_to_nla,
    MOUTHPIECE_OT_edit_mapping,
    MOUTHPIECE_OT_save_mapping,
    MOUTHPIECE_OT_check_mapping,
    MOUTHPIECE_OT_render_preview,
    MOUTHPIECE_OT_render_portrait,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    global _server_process
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    if _server_process is not None and _server_process.poll() is None:
        _server_process.terminate()
    _server_process = None
