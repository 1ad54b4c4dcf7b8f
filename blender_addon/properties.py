"""The add-on's settings: preferences (server) and per-scene sidebar settings."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import actions, mapping
from .server_link import engine_info, session

EMOTIONS = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")
RIGS = (
    ("arkit", "Built-in head", "Mouthpiece's own head with the 52 ARKit shape keys, jaw, neck and eye bones"),
    (
        "flame",
        "FLAME",
        "FLAME head with 100 expression keys and pose correctives (import it with mouthpiece import-flame)",
    ),
    (
        "bfm",
        "BFM (3DMM)",
        "Basel Face Model head with 64 expression keys (put BFM_model_front.mat in the models folder)",
    ),
)


DEFAULT = "DEFAULT"  # style/identity: the engine's own default
NONE = "NONE"  # placeholder item of an empty list
# what the server said and the jobs' live state: server_link.session(), runtime only


POSE_STYLES = 46  # mirrors core.head_motion.POSE_STYLES (the add-on imports no core; a test keeps them equal)


# enum item lists must stay referenced while Blender shows them
_engine_items: list[tuple] = []
_style_items: list[tuple] = []
_identity_items: list[tuple] = []
_strip_items: list[tuple] = []
_take_items: list[tuple] = []
_preset_items: list[tuple] = []


def _engines(_self, _context) -> list[tuple]:
    _engine_items.clear()
    for i, e in enumerate(session().engines):
        ready = e.get("ready", False)
        label = e["name"] if ready else f"{e['name']} (unavailable)"
        why = e.get("message") or ("ready" if ready else "not available")
        _engine_items.append((e["name"], label, why, "CHECKMARK" if ready else "ERROR", i))
    if not _engine_items:
        _engine_items.append(("builtin", "builtin", "Mouthpiece's own engine (no weights needed)", "NONE", 0))
    return _engine_items


def _names(entries) -> list[str]:
    return [str(e["name"]) if isinstance(e, dict) else str(e) for e in entries or []]


def _options_enum(store: list[tuple], key: str, none_label: str):
    def items(self, _context) -> list[tuple]:
        store.clear()
        store.append((DEFAULT, none_label, "Use the engine's default", 0))
        info = engine_info(self.engine) or {}
        for i, name in enumerate(_names(info.get("options", {}).get(key)), start=1):
            store.append((name, name, f"{key[:-1]} '{name}'", i))
        return store

    return items


def _strips(_self, context) -> list[tuple]:
    from .sound import sound_strips

    _strip_items.clear()
    for i, strip in enumerate(sound_strips(context.scene)):
        _strip_items.append((strip.name, strip.name, f"starts at frame {int(strip.frame_start)}", i))
    if not _strip_items:
        _strip_items.append((NONE, "(no sound strips)", "Add a sound strip in the Video Sequencer first", 0))
    return _strip_items


OWN = 0  # the Takes list's entry for the artist's own animation


def _takes(_self, context) -> list[tuple]:
    from .head import head_ids

    _take_items.clear()
    obj = context.object
    takes = actions.takes_of(obj.name) if obj else []
    if not takes:
        _take_items.append(("0", "(no takes yet)", "Generate to make the first take", OWN))
        return _take_items
    own = actions.own_action(head_ids(obj))
    label = f"Own animation: {own}" if own else "Own animation (no take)"
    _take_items.append(("0", label, "Your own animation: the action a take replaced, takes off", "USER", OWN))
    for number, name in takes:
        _take_items.append((str(number), name, f"take {number}", "ACTION", number))
    return _take_items


def _get_take(_self) -> int:
    """The take playing on the active head (OWN when none): the list always shows what plays."""
    from .head import head_ids

    obj = bpy.context.object
    if obj is None:
        return OWN
    take = actions.current_take(head_ids(obj))
    return int(take[actions.TAKE_PROP]) if take is not None and take.get(actions.HEAD_PROP) == obj.name else OWN


def _set_take(_self, value: int) -> None:
    from .takes import switch_take

    if bpy.context.object is not None:
        switch_take(bpy.context, bpy.context.object, value)


def _presets(_self, _context) -> list[tuple]:
    _preset_items.clear()
    for name, path in mapping.preset_files().items():
        label = mapping.preset_label(path, name)
        _preset_items.append((name, label, f"shape-key name mapping '{name}'", mapping.preset_number(name)))
    return _preset_items


class MouthpieceNameFix(bpy.types.PropertyGroup):
    """One row of a character's mapping table: a track channel and the shape key it drives."""

    channel: StringProperty(name="Channel", description="The track's channel (ARKit name)")
    key: StringProperty(name="Shape Key", description="The shape key it drives (empty: as the name mapping says)")


class MouthpieceCharacter(bpy.types.PropertyGroup):
    """Per character (mesh object): the mapping table that overrides the name mapping's choices.
    (No methods here: bpy 4.2 crashes at exit after unregistering a property group that has one.)"""

    fixes: CollectionProperty(type=MouthpieceNameFix)
    fix_index: IntProperty()


class MouthpieceSettings(bpy.types.PropertyGroup):
    rig: EnumProperty(name="Head", description="Which head Add Head builds", items=RIGS, default="arkit")
    audio_source: EnumProperty(
        name="Audio",
        items=(
            ("FILE", "File", "An audio file on disk; its sound strip is added at the start frame"),
            ("STRIP", "Sound Strip", "A sound strip already in the sequencer; the take starts where it starts"),
        ),
        default="FILE",
    )
    audio_file: StringProperty(name="Audio File", description="WAV, FLAC or OGG clip", subtype="FILE_PATH")
    audio_strip: EnumProperty(name="Sound Strip", description="Sound strip to animate", items=_strips)
    transcript: StringProperty(
        name="Transcript",
        description="What is said (optional); the builtin engine aligns the words and gets the mouth shapes right",
    )
    engine: EnumProperty(name="Engine", description="Which engine animates the clip", items=_engines)
    emotion: EnumProperty(
        name="Emotion", items=[(e, e.capitalize(), f"Speak {e}") for e in EMOTIONS], default="neutral"
    )
    intensity: FloatProperty(name="Intensity", description="How strong the emotion is", default=0.5, min=0, max=1,
                             subtype="FACTOR")  # fmt: skip
    style: EnumProperty(name="Style", description="Speaking style the engine offers", items=_options_enum(
        _style_items, "styles", "Default style"))  # fmt: skip
    identity: EnumProperty(name="Identity", description="Speaker identity the engine was trained on",
                           items=_options_enum(_identity_items, "identities", "Default identity"))  # fmt: skip
    head_motion: BoolProperty(name="Head Motion", description="Add head movement that follows the voice", default=True)
    head_motion_source: EnumProperty(
        name="Head Motion From",
        items=(
            ("ENGINE", "Engine's Own", "The head motion the chosen engine makes"),
            ("SADTALKER", "SadTalker PoseVAE", "SadTalker's learned head motion from the audio, in a pose style "
             "(needs SadTalker's weights on the server)"),
        ),
        default="ENGINE",
    )  # fmt: skip
    pose_style: IntProperty(
        name="Pose Style", description="SadTalker's pose style (0..45): each moves the head its own way",
        default=0, min=0, max=POSE_STYLES - 1,
    )  # fmt: skip
    blinks: BoolProperty(name="Blinks", description="Add natural eye blinks", default=True)
    loudness: EnumProperty(
        name="Loudness",
        items=(
            ("absolute", "Absolute", "A louder recording opens the mouth wider: a shout wider than a whisper"),
            ("clip", "Per Clip", "Every clip is normalised to its own level"),
        ),
        default="absolute",
    )  # fmt: skip
    seed: IntProperty(name="Seed", description="Variation: the same seed gives the same take", default=0, min=0)
    start_frame: IntProperty(name="Start Frame", description="Frame where the take and its sound start", default=1)
    mapping_preset: EnumProperty(
        name="Name Mapping",
        description="How track channels find your character's shape keys (the choice is kept in the .blend)",
        items=_presets,
        default=mapping.preset_number("arkit"),
    )
    take: EnumProperty(
        name="Take", description="What plays on the active head: one of its takes, or your own animation",
        items=_takes, get=_get_take, set=_set_take,
    )  # fmt: skip
    bones_armature: StringProperty(name="Picked For", description="The armature whose bones are picked below")
    bone_head: StringProperty(name="Head Bone", description="Bone the head motion turns (empty: none)")
    bone_neck: StringProperty(name="Neck Bone", description="Bone the neck motion turns (empty: none)")
    bone_jaw: StringProperty(name="Jaw Bone", description="Bone the jaw rotation opens (empty: none)")
    bone_eye_l: StringProperty(name="Left Eye Bone", description="Bone the left eye's gaze turns (empty: none)")
    bone_eye_r: StringProperty(name="Right Eye Bone", description="Bone the right eye's gaze turns (empty: none)")
    gain_mouth: FloatProperty(name="Mouth", description="Scales the mouth, jaw, cheek and nose channels",
                              default=1.0, min=0.0, soft_max=2.0)  # fmt: skip
    gain_brows: FloatProperty(name="Brows", description="Scales the brow channels", default=1.0, min=0.0,
                              soft_max=2.0)  # fmt: skip
    gain_eyes: FloatProperty(name="Eyes", description="Scales blinks, squints and gaze", default=1.0, min=0.0,
                             soft_max=2.0)  # fmt: skip
    gain_head: FloatProperty(name="Head Motion", description="Scales the head and neck motion", default=1.0,
                             min=0.0, soft_max=2.0)  # fmt: skip
    time_offset: FloatProperty(
        name="Offset", description="Frames the face moves later than its sound (negative: earlier)",
        default=0.0, soft_min=-12.0, soft_max=12.0,
    )  # fmt: skip
    reduce_keys: BoolProperty(
        name="Reduce Keys", description="Key only what the curve needs to stay within the tolerance", default=False
    )
    key_tolerance: FloatProperty(
        name="Tolerance", description="How far the reduced curves may stray from the full take",
        default=0.01, min=0.0001, soft_max=0.1, precision=4,
    )  # fmt: skip
    portrait_image: StringProperty(
        name="Portrait", description="Photo of a face (PNG/JPEG), framed like a passport photo; centre-cropped",
        subtype="FILE_PATH",
    )  # fmt: skip


class MouthpiecePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    server_url: StringProperty(
        name="Server URL", description="Where the Mouthpiece server listens", default="http://127.0.0.1:8765"
    )
    token: StringProperty(
        name="Token", description="Only for a server started with --token", subtype="PASSWORD", default=""
    )
    auto_start: BoolProperty(
        name="Start Local Server Automatically",
        description="Start the server with the command below when Generate or Add Head finds none running",
        default=False,
    )
    server_command: StringProperty(
        name="Server Command",
        description="Command that starts a local server (its port is taken from the Server URL)",
        default="mouthpiece serve",
    )
    job_timeout: FloatProperty(
        name="Background Timeout (s)",
        description="In background runs and scripts, give up on a job after this many seconds (and cancel it)",
        default=600.0, min=0.1,
    )  # fmt: skip

    def draw(self, _context) -> None:
        col = self.layout.column()
        col.prop(self, "server_url")
        col.prop(self, "token")
        col.prop(self, "server_command")
        col.prop(self, "auto_start")
        col.prop(self, "job_timeout")


CLASSES = (MouthpieceNameFix, MouthpieceCharacter, MouthpieceSettings, MouthpiecePreferences)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    # properties Blender adds to its own types at run time (the stubs know neither them nor PointerProperty's value)
    bpy.types.Scene.mouthpiece = PointerProperty(type=MouthpieceSettings)  # type: ignore[attr-defined, func-returns-value]
    bpy.types.Object.mouthpiece = PointerProperty(type=MouthpieceCharacter)  # type: ignore[attr-defined, func-returns-value]


def unregister() -> None:
    delattr(bpy.types.Object, "mouthpiece")
    delattr(bpy.types.Scene, "mouthpiece")
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
