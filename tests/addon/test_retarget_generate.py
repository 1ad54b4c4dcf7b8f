"""Generate with EMOTE on an ARKit-named character: the server retargets the FLAME take and the add-on keys it.

A real ``mouthpiece serve`` runs the fixture EMOTE release (../shared/reference) with a FLAME-format
head made from the built-in head (core/retarget/synthetic.py) and imported as a user does; the
character is the user's own mesh with CC4-style names, not built by Mouthpiece.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bpy
import pytest

from blender_addon import actions
from blender_addon.server_link import refresh_server_in_background, session

from .characters import mesh_object
from .conftest import MOUTHPIECE, enabled_addon, mouthpiece_serve

pytestmark = pytest.mark.slow
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
CC4_KEYS = ["Jaw_Open", "Mouth_Smile_L", "Mouth_Smile_R", "Eye_Blink_L", "Eye_Blink_R", "Mouth_Close"]


@pytest.fixture(scope="module")
def emote_server(tmp_path_factory) -> Iterator[str]:
    """A real server whose models folder holds the fixture EMOTE release and an imported FLAME head."""
    from core.retarget.synthetic import flame_arrays
    from meshes import load_head
    from tests.synthetic_assets import write_flame_pkl

    if not MOUTHPIECE.exists() or not REFERENCE.is_dir():
        pytest.skip("needs the project's .venv and ../shared/reference")
    root = tmp_path_factory.mktemp("models")
    release = root / "emote" / "EMOTE_v2"
    (release / "checkpoints").mkdir(parents=True)
    shutil.copy(REFERENCE / "emote_small_cfg.yaml", release / "cfg.yaml")
    shutil.copy(REFERENCE / "emote_small.ckpt", release / "checkpoints" / "last.ckpt")
    pkl = root / "generic_model.pkl"
    write_flame_pkl(pkl, flame_arrays(load_head())[0])
    env = {"MOUTHPIECE_MODELS": str(root), "MOUTHPIECE_HOME": str(root / "home")}
    subprocess.run([str(MOUTHPIECE), "import-flame", str(pkl)], check=True, env={**os.environ, **env})
    with mouthpiece_serve(tmp_path_factory.mktemp("server"), env=env) as url:
        yield url


def _take_values(scene, character, frames: range) -> dict[str, list[float]]:
    keys = character.data.shape_keys
    values: dict[str, list[float]] = {name: [] for name in CC4_KEYS}
    for frame in frames:
        scene.frame_set(frame)
        for name in CC4_KEYS:
            values[name].append(keys.key_blocks[name].value)
    return values


def test_emote_takes_are_retargeted_and_keyed_on_an_arkit_character(scene, emote_server, hello_clip):
    character = mesh_object("Hero", CC4_KEYS)
    bpy.context.view_layer.objects.active = character
    takes = {}
    with enabled_addon() as prefs:
        prefs.server_url = emote_server
        refresh_server_in_background(bpy.context).join(300)
        assert any(e["name"] == "emote" and e["ready"] for e in session().engines), session().engines
        settings = scene.mouthpiece
        settings.audio_file = str(hello_clip)
        settings.engine = "emote"
        for emotion in ("neutral", "happy"):
            settings.emotion = emotion
            assert bpy.ops.mouthpiece.generate() == {"FINISHED"}, session().job.error
            assert actions.is_take(character.data.shape_keys.animation_data.action)
            takes[emotion] = _take_values(scene, character, range(1, 48))
    for values in takes.values():
        assert all(0.0 <= v <= 1.0 for channel in values.values() for v in channel)
        assert max(max(v) - min(v) for v in values.values()) > 0.05, "the retargeted take does not move"
    # the emotion reaches the character (its direction on a known basis is checked in tests/core/test_retarget*)
    change = max(abs(a - b) for k in CC4_KEYS for a, b in zip(takes["happy"][k], takes["neutral"][k], strict=True))
    assert change > 0.05
