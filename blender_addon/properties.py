"""The add-on's settings: preferences (server) and per-scene sidebar settings."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import actions, mapping

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


class ServerCache:
    """What the server last said (GET /v1/health and /v1/models), for the panel and the enums."""

    health: dict | None = None
    engines: list[dict] = []  # noqa: RUF012 - one shared cache for the session
    error: str = ""
    loading: bool = False  # GET /v1/models in flight


DEFAULT = "DEFAULT"  # style/identity: the engine's own default
NONE = "NONE"  # placeholder item of an empty list


class JobState:
    """The Generate job's live state for the panel: runtime only, never saved nor undone."""

    running: bool = False
    progress: float = 0.0
    status: str = ""
    error: str = ""


class RenderState:
    """The Render Portrait Video job's live state, like :class:`JobState`."""

    running: bool = False
    progress: float = 0.0
    status: str = ""
    error: str = ""


POSE_STYLES = 46


# enum item lists must stay referenced while Blender shows them
_engine_items: list[tuple] = []
_style_items: list[tuple] = []
_identity_items: list[tuple] = []
_strip_items: list[tuple] = []
_take_items: list[tuple] = []
_preset_items: list[tuple] = []


def engine_info(name: str) -> dict | None:
    return next((e for e in ServerCache.engines if e.get("name") == name), None)


def _engines(_self, _context) -> list[tuple]:
    _engine_items.clear()
    for i, e in enumerate(ServerCache.engines):
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


def _takes(_self, context) -> list[tuple]:
    _take_items.clear()
    obj = context.object
    for number, name in actions.takes_of(obj.name) if obj else []:
        _take_items.append((str(number), name, f"take {number}", number))
    if not _take_items:
        _take_items.append(("0", "(no takes yet)", "Generate to make the first take", 0))
    return _take_items


def _presets(_self, _context) -> list[tuple]:
    _preset_items.clear()
    for i, name in enumerate(mapping.preset_files()):
        _preset_items.append((name, name, f"shape-key name mapping '{name}'", i))
    return _preset_items


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
    seed: IntProperty(name="Seed", description="Variation: the same seed gives the same take", default=0, min=0)
    start_frame: IntProperty(name="Start Frame", description="Frame where the take and its sound start", default=1)
    mapping_preset: EnumProperty(
        name="Name Mapping", description="How track channels find your character's shape keys", items=_presets
    )
    take: EnumProperty(name="Take", description="Takes made for the active head", items=_takes)
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

    def draw(self, _context) -> None:
        col = self.layout.column()
        col.prop(self, "server_url")
        col.prop(self, "token")
        col.prop(self, "server_command")
        col.prop(self, "auto_start")


def preferences(context: bpy.types.Context) -> MouthpiecePreferences | None:
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


CLASSES = (MouthpieceSettings, MouthpiecePreferences)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mouthpiece = PointerProperty(type=MouthpieceSettings)


def unregister() -> None:
    del bpy.types.Scene.mouthpiece
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
