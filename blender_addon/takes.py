"""Takes: what a Generate asks the server for, what it keys on which head (checked before the job is sent),
applying the downloaded track as a take with its sound, switching takes, and the take a portrait video renders."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field

import bpy

from . import actions, mapping, sound
from .bake import GROUPS, BakeOptions, bake_track, scene_fps
from .bones import suggest_bones
from .head import RETARGETS, RIG_PROP, RIG_VERSION_PROP, armature_of, head_armature, head_ids, head_rig
from .properties import DEFAULT, OWN
from .server_link import engine_info
from .sound import sound_strips, strip_filepath, take_sound
from .wire import read_track


def job_params(settings, head=None) -> dict:
    """The job's params from a scene's sidebar ``settings``; for a ``head`` of another rig than the engine's,
    the rig to retarget onto. The scene's frame rate goes along: the server's track comes at the timeline's
    rate and keys one key per frame."""
    params: dict = {
        "engine": settings.engine,
        "fps": round(scene_fps(settings.id_data), 6),
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
    info = engine_info(settings.engine) or {}
    if "loudness" in info.get("options", {}).get("extra", {}):
        params["loudness"] = settings.loudness
    engine_rig = info.get("rig")
    if head is not None and (engine_rig, head_rig(head)) in RETARGETS:
        params["rig"] = head_rig(head)
    return params


def audio_source(context) -> tuple[str, int, bool]:
    """(file, start frame, whether a sound strip must be added); raises ValueError saying what is missing."""
    settings = context.scene.mouthpiece
    if settings.audio_source == "STRIP":
        strip = next((s for s in sound_strips(context.scene) if s.name == settings.audio_strip), None)
        if strip is None:
            raise ValueError("choose a sound strip, or switch Audio to File")
        if not strip_filepath(strip):
            raise ValueError(
                f"the sound strip '{strip.name}' has no sound file; choose another or switch Audio to File"
            )
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
    bones = armature_of(arm).bones
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
    picks = suggest_bones([b.name for b in armature_of(arm).bones])
    for joint, prop in BONE_PROPS.items():
        setattr(settings, prop, picks.get(joint, ""))
    settings.bones_armature = arm.name
    return picks


def _engine_channels(settings) -> list[str] | None:
    """The channels the chosen engine sends, when known before the job (the arkit rig's 52)."""
    info = engine_info(settings.engine) or {}
    return list(mapping.ARKIT_CHANNELS) if info.get("rig", "arkit") == "arkit" else None


def mapping_fixes(obj) -> dict[str, str]:
    """The character's mapping table (empty when the add-on's per-object settings are not registered)."""
    character = getattr(obj, "mouthpiece", None)
    return {fix.channel: fix.key for fix in character.fixes if fix.key} if character is not None else {}


def plan_take(context, obj) -> Plan:
    """Check a Generate on ``obj`` before anything is sent; raises ValueError saying what to do."""
    problem = target_problem(obj)
    if problem:
        raise ValueError(problem)
    settings = context.scene.mouthpiece
    options = bake_options(settings)
    if RIG_PROP in obj:
        return Plan(None, None, options)
    name = settings.mapping_preset or "arkit"
    try:
        preset = mapping.with_fixes(mapping.load_preset(name), mapping_fixes(obj))
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
    return Plan(mapping.load_preset("arkit"), suggest_bones([b.name for b in armature_of(arm).bones]) if arm else {},
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


def target_problem(obj) -> str | None:
    if obj is None:
        return "select the head to animate (or Add Head)"
    if obj.type != "MESH":
        return f"'{obj.name}' is not a mesh; select the head mesh"
    if obj.data.shape_keys is None:
        return f"'{obj.name}' has no shape keys; Add Head, or use a character with ARKit-named shape keys"
    return _linked_problem(obj)


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


def video_path(take_name: str) -> str:
    """Where a take's rendered video goes: ``mouthpiece_videos/<take name>.mp4`` beside the saved .blend (else
    in the system's temporary folder), the name made safe for any file system."""
    base = bpy.path.abspath("//") if bpy.data.filepath else tempfile.gettempdir()
    folder = os.path.join(base, "mouthpiece_videos")
    os.makedirs(folder, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", take_name).strip("_") or "take"
    return os.path.join(folder, f"{safe}.mp4")
