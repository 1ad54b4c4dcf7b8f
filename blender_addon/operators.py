"""Operators of the Mouthpiece sidebar: server, Add Head, Generate (modal), takes, mappings, preview,
Render Portrait Video (modal)."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import bpy

from . import actions, mapping, sound
from .bake import GROUPS, BakeOptions, bake_track, scene_fps
from .bones import suggest_bones
from .client import Client, ServerError
from .head import HEAD_NAMES, RETARGETS, RIG_PROP, RIG_VERSION_PROP, build_head, head_armature, head_ids, head_rig
from .jobs import Event, start_fetch, start_job, start_render
from .properties import DEFAULT, OWN, JobState, RenderState, ServerCache, engine_info, preferences
from .sound import place_movie, sound_strips, strip_filepath, take_sound
from .wire import WireError, read_rig, read_track

DEFAULT_URL = "http://127.0.0.1:8765"
_server_process: subprocess.Popen | None = None


def client(context: bpy.types.Context, timeout: float = 30.0) -> Client:
    prefs = preferences(context)
    return Client(prefs.server_url if prefs else DEFAULT_URL, prefs.token if prefs else "", timeout)


def refresh_server_in_background(context: bpy.types.Context) -> threading.Thread:
    """Ask the server for its health and engines on a thread (Blender never waits for a server); remember the
    answer, or the error, for the panel, which redraws after."""
    probe, slow = client(context, timeout=3.0), client(context, timeout=300.0)

    def work() -> None:
        try:
            health = probe.health()
        except ServerError as exc:
            ServerCache.health, ServerCache.error = None, str(exc)
            return
        ServerCache.health, ServerCache.error, ServerCache.loading = health, "", True
        try:
            ServerCache.engines = slow.models()  # the first time, the server loads its engines
        except ServerError as exc:
            ServerCache.error = str(exc)
        finally:
            ServerCache.loading = False

    thread = threading.Thread(target=work, name="mouthpiece-check", daemon=True)
    thread.start()

    def redraw_when_answered() -> float | None:
        if thread.is_alive():
            return 0.5
        _tag_redraw(bpy.context)
        return None

    if not bpy.app.background:
        bpy.app.timers.register(redraw_when_answered, first_interval=0.5)
    return thread


def _tag_redraw(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


SERVER_START_SECONDS = 120.0  # how long a job waits for an auto-started server (a cold start loads torch)


def server_connector(context: bpy.types.Context):
    """For a job's worker thread: make sure a server answers, auto-starting the local one (preferences)
    and waiting for it there, never on Blender's main thread. Raises ServerError saying why not."""
    prefs = preferences(context)
    auto = bool(prefs and prefs.auto_start)
    url = prefs.server_url if prefs else DEFAULT_URL
    command = prefs.server_command if prefs else "mouthpiece serve"
    probe = client(context, timeout=3.0)

    def connect(events: queue.Queue) -> None:
        try:
            ServerCache.health = probe.health()
            return
        except ServerError as exc:
            if not auto:
                ServerCache.health, ServerCache.error = None, str(exc)
                raise
        events.put(Event("progress", 0.0, "Starting the local server…"))
        error = _spawn_server(url, command)
        if error:
            raise ServerError(error)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                ServerCache.health, ServerCache.error = probe.health(), ""
                return
            except ServerError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"the local server did not answer within {SERVER_START_SECONDS:.0f} s: {exc}"
                    ) from None
            time.sleep(0.25)

    return connect


def start_local_server(context: bpy.types.Context) -> str | None:
    """Start the preferences' server command on the URL's port; returns an error message or None."""
    prefs = preferences(context)
    return _spawn_server(
        prefs.server_url if prefs else DEFAULT_URL, prefs.server_command if prefs else "mouthpiece serve"
    )


def _spawn_server(server_url: str, server_command: str) -> str | None:
    """Run ``server_command`` on the URL's port unless our server already runs (safe off the main thread)."""
    global _server_process
    if _server_process is not None and _server_process.poll() is None:
        return None
    url = urllib.parse.urlparse(server_url)
    command = shlex.split(server_command)
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
        checking = refresh_server_in_background(context)
        if bpy.app.background:  # scripts want the answer
            checking.join()
            if ServerCache.health is None:
                self.report({"WARNING"}, ServerCache.error)
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
            if ServerCache.health is not None or time.monotonic() > deadline:
                _tag_redraw(bpy.context)
                return None
            checking[0] = refresh_server_in_background(bpy.context)
            return 0.5

        bpy.app.timers.register(poll, first_interval=0.5)
        self.report({"INFO"}, "Starting the Mouthpiece server…")
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


MAPPING_PROP = "mouthpiece_mapping"  # on a character: JSON of the name mapping its takes were made with
BONE_PROPS = {"head": "bone_head", "neck": "bone_neck", "jaw": "bone_jaw", "eye_L": "bone_eye_l",
              "eye_R": "bone_eye_r"}  # fmt: skip


@dataclass
class Plan:
    """What a Generate keys on a head, worked out (and checked) before the job is sent."""

    preset: dict | None  # the name mapping; None on a built-in head (channels are its shape keys)
    bones: dict[str, str] | None  # joint → picked bone; None on a built-in head (its own bones)
    options: BakeOptions
    warnings: list[str] = field(default_factory=list)


def bake_options(settings) -> BakeOptions:
    """The sidebar's gains, timing offset and key reduction."""
    gains = {group: float(getattr(settings, f"gain_{group}")) for group in GROUPS}
    tolerance = float(settings.key_tolerance) if settings.reduce_keys else 0.0
    return BakeOptions(gains=gains, offset=float(settings.time_offset), tolerance=tolerance)


def picked_bones(context, obj) -> tuple[dict[str, str], list[str]]:
    """The bones picked for the face's joints on ``obj``'s armature, and a note when they were just
    suggested by name (the first Generate on this armature; cleared picks then stay cleared)."""
    arm = head_armature(obj)
    if arm is None:
        return {}, []
    settings = context.scene.mouthpiece
    bones = arm.data.bones
    if settings.bones_armature == arm.name:
        picks = {joint: getattr(settings, prop) for joint, prop in BONE_PROPS.items()}
        return {joint: name for joint, name in picks.items() if name in bones}, []
    picks = fill_bone_picks(settings, arm)
    if not picks:
        return {}, [f"no head, neck, jaw or eye bone found by name in '{arm.name}': only shape keys are keyed"]
    shown = ", ".join(f"{joint} → {name}" for joint, name in picks.items())
    return picks, [f"bones picked by name: {shown} (change them under Head ▸ Bones)"]


def fill_bone_picks(settings, arm) -> dict[str, str]:
    """Pick ``arm``'s bones for the joints by their names (empty where none fits); returns the picks."""
    picks = suggest_bones([b.name for b in arm.data.bones])
    for joint, prop in BONE_PROPS.items():
        setattr(settings, prop, picks.get(joint, ""))
    settings.bones_armature = arm.name
    return picks


def _engine_channels(settings) -> list[str] | None:
    """The channels the chosen engine sends, when known before the job (the arkit rig's 52)."""
    info = engine_info(settings.engine) or {}
    return list(mapping.ARKIT_CHANNELS) if info.get("rig", "arkit") == "arkit" else None


def _fixes(obj) -> dict[str, str]:
    """The character's mapping table (empty when the add-on's per-object settings are not registered)."""
    character = getattr(obj, "mouthpiece", None)
    return {fix.channel: fix.key for fix in character.fixes if fix.key} if character is not None else {}


def plan_take(context, obj) -> Plan:
    """Check a Generate on ``obj`` before anything is sent; raises ValueError saying what to do."""
    problem = _target_problem(obj)
    if problem:
        raise ValueError(problem)
    settings = context.scene.mouthpiece
    options = bake_options(settings)
    if RIG_PROP in obj:
        return Plan(None, None, options)
    name = settings.mapping_preset or "arkit"
    try:
        preset = mapping.with_fixes(mapping.load_preset(name), _fixes(obj))
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    warnings: list[str] = []
    channels = _engine_channels(settings)
    if channels is not None:
        chosen = mapping.match_channels(channels, [k.name for k in obj.data.shape_keys.key_blocks], preset)
        if not chosen:
            raise ValueError(
                f"none of the {len(channels)} ARKit channels finds a shape key of '{obj.name}' with the "
                f"'{preset.get('name', name)}' name mapping; choose the mapping for your character's names "
                "under Head ▸ Names (Check Mapping lists what matches)"
            )
        if len(chosen) < len(channels):
            warnings.append(f"{len(chosen)} of {len(channels)} ARKit channels find a shape key")
        warnings += mapping.mapping_warnings(channels, chosen)
    bones, notes = picked_bones(context, obj)
    return Plan(preset, bones, options, warnings + notes)


def default_plan(obj) -> Plan:
    """The plan of a script's bake without the sidebar: a built-in head's own keys and bones, else the
    ARKit names and the bones suggested by name."""
    if RIG_PROP in obj:
        return Plan(None, None, BakeOptions())
    arm = head_armature(obj)
    return Plan(mapping.load_preset("arkit"), suggest_bones([b.name for b in arm.data.bones]) if arm else {},
                BakeOptions())  # fmt: skip


def apply_track(
    context, obj, data: bytes, audio_path: str, frame_start: int, add_sound: bool, job_id: str = "",
    plan: Plan | None = None,
) -> str:  # fmt: skip
    """Bake a downloaded track on ``obj`` (and place or reuse its sound) as a take that remembers
    ``job_id``; returns the report line. On any error nothing of the take remains.

    Raises ValueError when none of the track's channels finds a shape key on ``obj``."""
    track = read_track(data)
    plan = plan or default_plan(obj)
    names = [k.name for k in obj.data.shape_keys.key_blocks]
    if plan.preset is None:  # a head built by Add Head: channels are its shape keys
        chosen = {c: [c] for c in track.channels if c in names}
    else:
        chosen = mapping.match_channels(track.channels, names, plan.preset)
    if not chosen:
        raise ValueError(
            f"none of the track's {len(track.channels)} '{track.rig}' channels (e.g. {track.channels[0]}) "
            f"is a shape key of '{obj.name}'; choose an engine for this head, or a name mapping that fits it"
        )
    scene = context.scene
    notes = [note] if (note := own_shape_keys(obj)) else []

    def finish(result) -> None:
        actions.tag_take(result.take, job_id, track.rig)
        if plan.preset is not None:
            obj[MAPPING_PROP] = json.dumps(plan.preset)
        try:
            strip = (take_sound(scene, audio_path, frame_start, name=f"{result.name} sound") if add_sound
                     else sound.find_sound(scene, audio_path, frame_start))  # fmt: skip
        except RuntimeError as exc:  # a Blender built without audio: the take stands without its sound
            notes.append(f"no sound strip: {str(exc).removeprefix('Error: ').strip()}")
            return
        if strip is not None:
            actions.tag_sound(result.take, strip.name)
            _solo_sound(scene, obj, result.take)

    result = bake_track(obj, track, frame_start=frame_start, mapping=chosen, bones=plan.bones,
                        options=plan.options, then=finish)  # fmt: skip
    line = f"{result.name}: frames {result.frame_start}–{result.frame_end}, {result.keyed_channels} channels"
    if result.keyed_bones:
        line += f", bones {', '.join(result.keyed_bones)}"
    if result.missing_channels:
        shown = ", ".join(result.missing_channels[:6]) + ("…" if len(result.missing_channels) > 6 else "")
        line += f"; no shape key for {len(result.missing_channels)} ({shown})"
    if result.combined:
        line += "; " + "; ".join(result.combined)
    if result.layered:
        line += f"; plays over the own animation of {', '.join(result.layered)} (NLA track '{actions.NLA_TRACK}')"
    expects, version = track.meta.get("expects_flame"), obj.get(RIG_VERSION_PROP)
    if expects and version and expects != f"FLAME {version}":
        line += f"; warning: this engine's parameters belong to {expects}, this head is FLAME {version}"
    return "; ".join([line, *notes])


def _solo_sound(scene, obj, number: int) -> None:
    """Unmute take ``number``'s sound strip, mute the other takes' of this head."""
    strips = actions.take_sounds(obj.name)
    if number in strips:
        sound.solo(scene, strips[number], set(strips.values()) - {strips[number]})


def switch_take(context, obj, number: int) -> None:
    """Play take ``number`` (with its sound) on ``obj``, or the artist's own animation for OWN."""
    ids = head_ids(obj)
    if number == OWN:
        actions.use_own(ids)
    else:
        actions.use_take(number, ids)
        _solo_sound(context.scene, obj, number)
    context.scene.frame_set(context.scene.frame_current)  # show it now


def _linked_problem(obj) -> str | None:
    """Why a take cannot be kept on ``obj``: it (or its armature) is linked from a library, not overridden."""
    arm = head_armature(obj) if obj.type == "MESH" else None
    for id_block in (obj, arm):
        if id_block is not None and id_block.library is not None:
            return (
                f"'{id_block.name}' is linked from '{os.path.basename(id_block.library.filepath)}', so a take on it "
                "could not be saved; make a library override of it (Object ▸ Library Override ▸ Make) or make it "
                "local (Object ▸ Relations ▸ Make Local), then Generate"
            )
    return None


def own_shape_keys(obj) -> str | None:
    """On a library-override character whose mesh is still linked, override the mesh too (its shape keys
    come with it), so that the take is saved with the file; returns a note saying so, or None."""
    if obj.override_library is None or obj.data.library is None:
        return None
    mesh = obj.data.override_create(remap_local_usages=True)
    return f"made the linked mesh '{mesh.name}' a library override so that the take is saved with the file"


def _target_problem(obj) -> str | None:
    if obj is None:
        return "select the head to animate (or Add Head)"
    if obj.type != "MESH":
        return f"'{obj.name}' is not a mesh; select the head mesh"
    if obj.data.shape_keys is None:
        return f"'{obj.name}' has no shape keys; Add Head, or use a character with ARKit-named shape keys"
    return _linked_problem(obj)


class _ServerJobOperator:
    """A job on the server driven by a worker thread (jobs.py): modal with a progress bar and Esc to cancel
    when invoked from the UI, synchronous (with a timeout) in background mode and from scripts. Subclasses
    say how to prepare (:meth:`_prepare`), start (:meth:`_start`) and use the result (:meth:`_finish`).
    Whatever happens, the operator ends with the panel ready for the next job."""

    state: type = JobState
    job_id: str = ""
    bl_label: str = "Job"

    @classmethod
    def poll(cls, context):
        """One job of a kind at a time (a subclass with its own state may ask more)."""
        return context.scene is not None and not cls.state.running

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
        self.state.error = self.state.status = ""
        if not self._prepare(context):
            return False
        self.thread, self.events, self.cancel = self._start(context)
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
            _tag_redraw(context)

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
                return self._finished(context, ev.data)
            elif ev.kind == "cancelled":
                self.state.status = "Cancelled"
                self.report({"WARNING"}, f"{self.bl_label} cancelled")
                return {"CANCELLED"}
            elif ev.kind == "error":
                self.state.status = ""
                self._fail(ev.text)
                return {"CANCELLED"}
        _tag_redraw(context)
        return {"RUNNING_MODAL"}


class GenerateJob(_ServerJobOperator):
    """Generate's steps: check the head and mapping, run the job (starting the server if asked), bake."""

    def _prepare(self, context) -> bool:
        obj = context.object
        problem = _target_problem(obj)
        if problem:
            return self._fail(problem)
        try:
            self.audio_path, self.frame_start, self.add_sound = _audio(context)
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
        problem = _target_problem(obj)  # the artist may have changed it meanwhile
        if problem:
            return self._fail(problem)
        try:
            line = apply_track(context, obj, data, self.audio_path, self.frame_start, self.add_sound, self.job_id,
                               self.plan)  # fmt: skip
        except WireError as exc:
            return self._fail(f"the server sent a track this add-on cannot read: {exc}")
        except ValueError as exc:
            return self._fail(str(exc))
        JobState.status = line
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
        JobState.status = f"Added {obj.name}: {len(rig.channels)} shape keys, {len(rig.joint_names)} bones"
        self.report({"INFO"}, JobState.status)
        return True


class MOUTHPIECE_OT_add_head(AddHeadJob, bpy.types.Operator):
    bl_idname = "mouthpiece.add_head"
    bl_label = "Add Head"
    bl_description = "Build the chosen head from the server's rig: mesh, shape keys, jaw/neck/eye bones (Esc cancels)"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads this class attribute


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
        preset = mapping.with_fixes(mapping.load_preset(context.scene.mouthpiece.mapping_preset), _fixes(obj))
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
            mapping.load_preset(context.scene.mouthpiece.mapping_preset), _fixes(context.object)
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
    global _server_process
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    if _server_process is not None and _server_process.poll() is None:
        _server_process.terminate()
    _server_process = None
