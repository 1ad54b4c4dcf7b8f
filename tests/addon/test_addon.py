"""The add-on as Blender sees it: register/unregister, and its operators against a real server."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.client import Client, ServerError
from blender_addon.jobs import run_job
from blender_addon.server_link import session
from blender_addon.sound import sound_strips
from core.audio import SAMPLE_RATE, load_audio, write_wav
from tests.server.test_server import serve as run_server

from .conftest import enabled_addon, key_frames

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"
OPERATORS = ("check_server", "start_server", "add_head", "generate", "use_take", "suggest_bones", "push_to_nla",
             "edit_mapping", "save_mapping", "fill_mapping_table", "check_mapping", "render_preview",
             "render_portrait")  # fmt: skip
PANELS = ("MOUTHPIECE_PT_main", "MOUTHPIECE_PT_head", "MOUTHPIECE_PT_audio", "MOUTHPIECE_PT_animation",
          "MOUTHPIECE_PT_takes", "MOUTHPIECE_PT_portrait")  # fmt: skip


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """The real inference server (the server tests' runner); yields its URL."""
    with run_server(data_dir) as running:
        yield running.url


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_register_and_unregister(scene):
    with enabled_addon() as prefs:
        assert prefs.server_url == "http://127.0.0.1:8765" and prefs.server_command == "mouthpiece serve"
        for name in OPERATORS:
            assert hasattr(bpy.types, f"MOUTHPIECE_OT_{name}"), name
        for name in PANELS:
            panel = getattr(bpy.types, name)
            assert panel.bl_space_type == "VIEW_3D" and panel.bl_category == "Mouthpiece"
        settings = bpy.context.scene.mouthpiece
        assert (settings.emotion, settings.intensity, settings.start_frame) == ("neutral", 0.5, 1)
        assert settings.head_motion and settings.blinks and settings.engine == "builtin"
    assert not hasattr(bpy.types.Scene, "mouthpiece")
    for name in (*PANELS, *(f"MOUTHPIECE_OT_{n}" for n in OPERATORS)):
        assert not hasattr(bpy.types, name), name


def test_generate_without_a_server_says_how_to_start_one(scene, tmp_path):
    wav = tmp_path / "a.wav"
    write_wav(wav, np.zeros(SAMPLE_RATE, np.float32))
    with enabled_addon() as prefs:
        prefs.server_url = _closed_port_url()
        mesh = bpy.data.meshes.new("m")
        obj = bpy.data.objects.new("face", mesh)
        scene.collection.objects.link(obj)
        bpy.context.view_layer.objects.active = obj
        with pytest.raises(RuntimeError, match="no shape keys"):
            bpy.ops.mouthpiece.generate()
        obj.shape_key_add(name="Basis")
        obj.shape_key_add(name="jawOpen")
        scene.mouthpiece.audio_file = str(wav)
        with pytest.raises(RuntimeError, match=r"cannot reach the Mouthpiece server at .*Start Local Server"):
            bpy.ops.mouthpiece.generate()
        assert "cannot reach" in session().job.error


@pytest.mark.slow
def test_add_head_and_generate_against_the_real_server(scene, tmp_path):
    wav = tmp_path / "hello.wav"
    write_wav(wav, load_audio(HELLO)[: 2 * SAMPLE_RATE])  # "Hello! My name is..."
    with serve(tmp_path / "data") as url, enabled_addon() as prefs:
        prefs.server_url = url
        bpy.ops.mouthpiece.check_server()
        settings = scene.mouthpiece
        bpy.ops.mouthpiece.add_head()
        head = bpy.context.object
        assert head.name == "Mouthpiece Head" and len(head.data.shape_keys.key_blocks) == 53
        settings.audio_file = str(wav)
        settings.transcript = "Hello my name is"
        settings.emotion, settings.intensity, settings.start_frame = "happy", 0.8, 12
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
        assert session().job.error == ""
        assert session().job.status.startswith("MP builtin happy 0.8 #1: frames 12–")
        assert actions.takes_of(head.name) == [(1, "MP builtin happy 0.8 #1")]
        [strip] = sound_strips(scene)
        assert strip.frame_start == 12
        assert scene.frame_end >= 12 + 59
        # the server's track came at the scene's 30 fps (the builtin engine's own is 60): one key per frame
        frames = key_frames(head.data.shape_keys, 'key_blocks["jawOpen"].value')
        assert frames == list(range(12, 12 + len(frames))) and len(frames) >= 60

        settings.engine = "builtin"
        settings.emotion = "sad"
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
        assert [n for _, n in actions.takes_of(head.name)] == ["MP builtin happy 0.8 #1", "MP builtin sad 0.8 #2"]


def test_job_params_send_the_scene_rate(scene):
    from blender_addon.takes import job_params

    with enabled_addon():
        assert job_params(scene.mouthpiece)["fps"] == 30.0
        scene.render.fps, scene.render.fps_base = 24000, 1001
        assert job_params(scene.mouthpiece)["fps"] == 23.976024


def test_job_params_ask_for_loudness_where_the_engine_offers_it(scene):
    from blender_addon.takes import job_params
    from core.engines import get_engine

    with enabled_addon():
        session().engines = [{"name": n, "options": get_engine(n).describe()} for n in ("builtin", "emote")]
        settings = scene.mouthpiece
        assert settings.loudness == "absolute" and job_params(settings)["loudness"] == "absolute"
        settings.loudness = "clip"
        assert job_params(settings)["loudness"] == "clip"
        settings.engine = "emote"
        assert "loudness" not in job_params(settings)  # the server would refuse it: emote has no such option


def test_cancel_reaches_the_server(tmp_path):
    wav = tmp_path / "long.wav"
    speech = load_audio(HELLO)
    write_wav(wav, np.concatenate([speech] * 4))
    with serve(tmp_path / "data") as url:
        client = Client(url)
        events: queue.Queue = queue.Queue()
        cancel = threading.Event()
        cancel.set()  # Esc before the first poll
        run_job(client, str(wav), {"engine": "builtin"}, events, cancel)
        kinds = [events.get().kind for _ in range(events.qsize())]
        assert kinds == ["job", "cancelled"]
        with pytest.raises(ServerError, match="invalid params: emotion"):
            client.submit(str(wav), {"emotion": "bored"})


def test_a_track_for_another_rig_is_refused_before_baking(scene):
    from blender_addon.head import build_head
    from blender_addon.takes import apply_track
    from blender_addon.wire import read_rig
    from core.track import Track

    from .conftest import grid_rig

    head = build_head(read_rig(grid_rig(name="flame").to_npz_bytes()), name="FLAME Head")
    track = Track(fps=25, rig="bfm", channels=["exp00", "exp01"], values=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"none of the track's 2 'bfm' channels .* is a shape key of 'FLAME Head'"):
        apply_track(bpy.context, head, track.to_npz_bytes(), "", 1, add_sound=False)
    assert actions.takes_of("FLAME Head") == []


class CheckingLayout:
    """Stands in for Blender's UI layout (there is none without a window): checks that every property
    and operator a panel draws exists, and records the labels."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.enabled = True
        self.scale_y = 1.0

    def _child(self, *_a, **_k) -> CheckingLayout:
        return CheckingLayout(self.log)

    row = column = box = _child

    def label(self, text: str = "", icon: str = "NONE") -> None:
        self.log.append(text)

    def prop(self, data, name: str, **_k) -> None:
        assert name in data.bl_rna.properties, f"{data} has no property '{name}'"

    def template_list(self, list_type: str, _id: str, data, name: str, active_data, active_name: str, **_k) -> None:
        assert hasattr(bpy.types, list_type), list_type
        assert name in data.bl_rna.properties and active_name in active_data.bl_rna.properties
        self.log.append(f"list {name}: {len(getattr(data, name))} rows")

    def prop_search(self, data, name: str, search_data, search_name: str, **_k) -> None:
        self.prop(data, name)
        assert search_name in search_data.bl_rna.properties, f"{search_data} has no collection '{search_name}'"

    def operator(self, idname: str, **_k) -> None:
        module, _, name = idname.partition(".")
        assert hasattr(bpy.types, f"{module.upper()}_OT_{name}"), idname

    def progress(self, factor: float, type: str, text: str) -> None:
        self.log.append(f"{text} {factor:.0%}")


def test_panels_draw_every_state(scene):
    from blender_addon.head import build_head
    from blender_addon.wire import read_rig
    from core.engines import get_engine

    from .conftest import grid_rig

    class Panel:
        layout: CheckingLayout

    with enabled_addon():
        log: list[str] = []
        panel = Panel()
        panel.layout = CheckingLayout(log)
        session().health, session().error = None, "cannot reach the Mouthpiece server at http://x"
        session().engines = [
            {"name": "builtin", "ready": True, "rig": "arkit", "options": get_engine("builtin").describe()},
            {"name": "emote", "ready": False, "rig": "flame", "message": "EMOTE weights are missing: put them in X"},
        ]
        build_head(read_rig(grid_rig(name="flame").to_npz_bytes()), name="FLAME Head")
        bpy.context.view_layer.objects.active = bpy.data.objects["FLAME Head"]
        names = ("main", "head", "audio", "animation", "takes", "portrait")
        for name in names:
            getattr(bpy.types, f"MOUTHPIECE_PT_{name}").draw(panel, bpy.context)
        assert "Server not connected" in log and "FLAME Head: 3 shape keys, bones in 'FLAME Head rig'" in log
        assert "builtin makes arkit takes: retargeted onto this flame head" in " ".join(log)

        session().health = {"version": "0.1.0", "device": "cpu"}
        scene.mouthpiece.engine = "emote"
        session().job.running, session().job.progress, session().job.status = True, 0.4, "animating"
        log.clear()
        for name in names:
            getattr(bpy.types, f"MOUTHPIECE_PT_{name}").draw(panel, bpy.context)
        assert "Server 0.1.0 · cpu" in log and "animating 40%" in log and "Esc cancels" in log
        assert "EMOTE weights are missing: put them in X" in " ".join(log)
        session().job.running = False

        from .characters import body_character

        body_character(["jawOpen", "eyeBlinkLeft"])  # an artist's character: bone pickers and the mapping
        log.clear()
        for name in names:
            getattr(bpy.types, f"MOUTHPIECE_PT_{name}").draw(panel, bpy.context)
        assert "Bones keyed in 'Body rig' (empty: none)" in log and "Keys" in log
        assert bpy.ops.mouthpiece.suggest_bones() == {"FINISHED"}
        assert (scene.mouthpiece.bone_head, scene.mouthpiece.bone_neck) == ("head", "neck")
        assert bpy.ops.mouthpiece.fill_mapping_table() == {"FINISHED"}
        log.clear()
        bpy.types.MOUTHPIECE_PT_head.draw(panel, bpy.context)
        assert "list fixes: 52 rows" in log


def test_emote_take_on_a_head_of_another_flame_version_is_flagged(scene):
    from blender_addon.head import build_head
    from blender_addon.takes import apply_track
    from blender_addon.wire import read_rig

    from .conftest import grid_rig, random_track

    for version, warned in (("2023", True), ("2020", False)):
        rig = grid_rig(name="flame")
        rig.meta["version"] = version
        head = build_head(read_rig(rig.to_npz_bytes()), name=f"FLAME {version}")
        track = random_track(meta={"engine": "emote", "expects_flame": "FLAME 2020"})
        line = apply_track(bpy.context, head, track.to_npz_bytes(), "", 1, add_sound=False)
        assert ("belong to FLAME 2020, this head is FLAME 2023" in line) is warned, line
