"""The add-on on an artist's own character, through the operators against a real ``mouthpiece serve``:
a head skinned to a body with a walk, an animated object, linked and library-override characters, the
modal path (invoke/modal with stub events), failures that leave nothing behind, timeouts, auto-start."""

from __future__ import annotations

import json
import time

import bpy
import numpy as np
import pytest

from blender_addon import actions, operators, server_link, takes
from blender_addon.head import head_ids
from blender_addon.jobs import start_job
from blender_addon.server_link import session

from .characters import action_keys, animated_object, body_character, bone_samples
from .conftest import MOUTHPIECE, enabled_addon, free_port, server_answers

ARKIT_FEW = ["jawOpen", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft",
             "eyeBlinkRight", "browInnerUp"]  # fmt: skip


class Stub:
    """A stand-in for Blender's event in modal()."""

    def __init__(self, kind: str) -> None:
        self.type = kind


class StubGenerate(operators.GenerateJob):
    """Generate's own steps (prepare, start, modal, finish) without Blender's operator machinery."""

    bl_label = "Generate"

    def __init__(self) -> None:
        self.reports: list[tuple[str, str]] = []

    def report(self, kind: set[str], text: str) -> None:
        self.reports.append((next(iter(kind)), text))


def pump(op: StubGenerate, first: str = "TIMER", seconds: float = 120.0) -> set[str]:
    """Feed timer events to modal() until the job ends; returns its result."""
    result = op.modal(bpy.context, Stub(first))
    deadline = time.monotonic() + seconds
    while result == {"RUNNING_MODAL"}:
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.05)
        result = op.modal(bpy.context, Stub("TIMER"))
    return result


def _sound_ok() -> bool:
    return bool(bpy.app.build_options.audaspace)


def _generate_settings(url: str, clip, prefs) -> None:
    prefs.server_url = url
    settings = bpy.context.scene.mouthpiece
    settings.audio_file = str(clip)
    settings.transcript = "Hello my name is"


@pytest.mark.slow
def test_generate_on_a_walking_body_keys_only_the_picked_head_bone(scene, live_server, hello_clip):
    head, arm, walk = body_character(ARKIT_FEW)
    walk_keys = action_keys(walk)
    modes = {b.name: b.rotation_mode for b in arm.pose.bones}
    frames = range(1, 62)
    before = bone_samples(arm, frames)
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        op = StubGenerate()
        assert op._begin(bpy.context) and session().job.running
        assert ("WARNING", "bones picked by name: head → head, neck → neck (change them under Head ▸ Bones)") in (
            op.reports
        )
        assert pump(op) == {"FINISHED"} and not session().job.running, op.reports
        assert "plays over the own animation of Body rig" in session().job.status
        settings = scene.mouthpiece
        assert (settings.bone_head, settings.bone_neck, settings.bone_jaw) == ("head", "neck", "")

    after = bone_samples(arm, frames)
    data = arm.animation_data
    assert data.action == walk and action_keys(walk).keys() == walk_keys.keys()
    for path, co in walk_keys.items():
        np.testing.assert_array_equal(action_keys(walk)[path], co)
    assert {b.name: b.rotation_mode for b in arm.pose.bones} == modes
    for bone in ("root", "spine", "neck"):  # the body walks exactly as before, at every frame
        np.testing.assert_allclose(after[bone], before[bone], atol=1e-6, err_msg=bone)
    assert np.abs(after["head"] - before["head"]).max() > 1e-3  # and the head moves with the voice

    takes = [a for a in bpy.data.actions if actions.is_take(a)]  # one action (5.0), or one per data-block (4.2)
    keyed = [path for take in takes for path, _ in action_keys(take) if path.startswith("pose.bones")]
    assert {path.split('"')[1] for path in keyed} == {"head"}  # the builtin engine moves the head; no body bone
    assert all(path.endswith("rotation_euler") for path in keyed)  # in the head bone's own rotation mode
    track = data.nla_tracks[actions.NLA_TRACK]
    assert [s.blend_type for s in track.strips] == ["COMBINE"] and track.strips[0].action in takes
    assert head.data.shape_keys.animation_data.action in takes


@pytest.mark.slow
def test_generate_on_an_object_with_its_own_animation(scene, live_server, hello_clip):
    obj, slide = animated_object(ARKIT_FEW)
    slide_keys = action_keys(slide)
    placement = []
    for frame in range(1, 62):
        scene.frame_set(frame)
        placement.append(np.array(obj.matrix_world))
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}, session().job.error
    assert obj.animation_data.action == slide and obj.rotation_mode == "XYZ"
    for path, co in slide_keys.items():
        np.testing.assert_array_equal(action_keys(slide)[path], co)
    assert not obj.animation_data.nla_tracks  # a character's object is not the face: nothing keyed on it
    for frame, matrix in zip(range(1, 62), placement, strict=True):
        scene.frame_set(frame)
        np.testing.assert_allclose(np.array(obj.matrix_world), matrix, atol=1e-6)
    keys = obj.data.shape_keys
    assert actions.is_take(keys.animation_data.action)
    jaw = []
    for frame in range(1, 62, 3):
        scene.frame_set(frame)
        jaw.append(keys.key_blocks["jawOpen"].value)
    assert max(jaw) > 0.1


def _library_character(tmp_path, link_only: bool) -> bpy.types.Object:
    """Save a character into a library .blend, start a new file and link it (and override it)."""
    from .characters import mesh_object

    hero = mesh_object("Hero", ARKIT_FEW)
    collection = bpy.data.collections.new("Hero")
    scene = bpy.context.scene
    scene.collection.children.link(collection)
    collection.objects.link(hero)
    scene.collection.objects.unlink(hero)
    library = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(library))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    with bpy.data.libraries.load(str(library), link=True) as (_src, dst):
        dst.collections = ["Hero"]
    linked = dst.collections[0]
    if link_only:
        scene.collection.children.link(linked)
    else:
        linked.override_hierarchy_create(scene, bpy.context.view_layer, do_fully_editable=True)
    obj = next(o for o in scene.objects if o.type == "MESH")
    bpy.context.view_layer.objects.active = obj
    return obj


def test_a_linked_character_is_refused_before_anything_is_sent(scene, tmp_path, hello_clip):
    obj = _library_character(tmp_path, link_only=True)
    assert obj.library is not None
    with enabled_addon() as prefs:
        prefs.server_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the refusal comes first
        bpy.context.scene.mouthpiece.audio_file = str(hello_clip)
        with pytest.raises(RuntimeError, match=r"'Hero' is linked from 'library.blend'.*Library Override"):
            bpy.ops.mouthpiece.generate()
        assert not session().job.running
    assert not any(actions.is_take(a) for a in bpy.data.actions)


@pytest.mark.slow
def test_a_library_override_character_keeps_its_take_after_save_and_reopen(scene, tmp_path, live_server, hello_clip):
    obj = _library_character(tmp_path, link_only=False)
    assert obj.override_library is not None and obj.data.library is not None
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}, session().job.error
        assert "made the linked mesh 'Hero' a library override" in session().job.status
    shot = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(shot))
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    obj = next(o for o in bpy.context.scene.objects if o.type == "MESH")
    action = obj.data.shape_keys.animation_data.action
    assert actions.is_take(action) and action.name == "MP builtin neutral 0.5 #1"
    bpy.context.scene.frame_set(20)
    assert obj.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(
        action_keys(action)[('key_blocks["jawOpen"].value', 0)][19, 1], abs=1e-6
    )


@pytest.mark.slow
def test_two_channels_on_one_key_get_their_maximum(scene, live_server, hello_clip, presets_dir):
    from blender_addon import mapping

    from .characters import mesh_object

    obj = mesh_object("Toon", ["jawOpen", "Smile"])
    bpy.context.view_layer.objects.active = obj
    mapping.save_preset("toon", {"name": "Toon", "names": {"mouthSmileLeft": ["Smile"], "mouthSmileRight": ["Smile"]}})
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        settings = scene.mouthpiece
        settings.mapping_preset = "toon"
        settings.emotion, settings.intensity = "happy", 0.9
        op = StubGenerate()
        assert op._begin(bpy.context)
        assert (
            "WARNING",
            "'Smile' is driven by mouthSmileLeft and mouthSmileRight: it gets their maximum",
        ) in op.reports
        assert pump(op) == {"FINISHED"}, op.reports
        assert "Smile = max(mouthSmileLeft, mouthSmileRight)" in session().job.status
        take = obj.data.shape_keys.animation_data.action
    smile = action_keys(take)[('key_blocks["Smile"].value', 0)]
    assert smile[:, 1].max() > 0.2  # happy: the smile shows
    assert json.loads(obj[takes.MAPPING_PROP])["name"] == "Toon"  # the mapping in use is kept in the .blend


def test_a_bake_that_fails_leaves_nothing_behind(scene):
    from blender_addon.bake import bake_track
    from blender_addon.wire import read_track

    from .conftest import random_track

    head, arm, walk = body_character(["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"])
    keys = head.data.shape_keys
    keys.key_blocks["jawOpen"].keyframe_insert("value", frame=1)
    own = keys.animation_data.action
    state = (set(bpy.data.actions), scene.frame_start, scene.frame_end)

    def placing_the_sound_fails(_result) -> None:
        raise RuntimeError("disk full")

    track = read_track(random_track(frames=120).to_npz_bytes())
    with pytest.raises(RuntimeError, match="disk full"):
        bake_track(head, track, frame_start=1, bones={"head": "head"}, then=placing_the_sound_fails)
    assert (set(bpy.data.actions), scene.frame_start, scene.frame_end) == state
    assert keys.animation_data.action == own and arm.animation_data.action == walk
    assert not arm.animation_data.nla_tracks and actions.OWN_ACTION_PROP not in keys


@pytest.mark.slow
def test_unexpected_errors_end_the_job_and_leave_the_addon_ready(scene, live_server, hello_clip):
    from .characters import mesh_object

    obj = mesh_object("Face", ARKIT_FEW)
    bpy.context.view_layer.objects.active = obj
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        # in the worker thread: an upload that is no file (a TypeError, not a ServerError)
        thread, events, _cancel = start_job(server_link.client(bpy.context), None, {})  # type: ignore[arg-type]
        thread.join(30)
        [event] = [events.get() for _ in range(events.qsize())]
        assert event.kind == "error" and event.text.startswith("unexpected error talking to the server: TypeError")

        # on the main thread: the head loses its shape keys while the take is generated
        op = StubGenerate()
        assert op._begin(bpy.context)
        obj.shape_key_clear()
        assert pump(op) == {"CANCELLED"}
        assert (
            session().job.error == "'Face' has no shape keys; Add Head, or use a character with ARKit-named shape keys"
        )
        assert not session().job.running and operators.MOUTHPIECE_OT_generate.poll(bpy.context)
    assert not any(actions.is_take(a) for a in bpy.data.actions)


@pytest.mark.slow
def test_esc_cancels_on_the_server_and_the_addon_is_ready_again(scene, live_server, hello_clip):
    from .characters import mesh_object

    obj = mesh_object("Face", ARKIT_FEW)
    bpy.context.view_layer.objects.active = obj
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        op = StubGenerate()
        assert op._begin(bpy.context)
        assert op.modal(bpy.context, Stub("MOUSEMOVE")) == {"PASS_THROUGH"}
        assert pump(op, first="ESC") == {"CANCELLED"}
        assert ("WARNING", "Generate cancelled") in op.reports and not session().job.running
    assert not any(actions.is_take(a) for a in bpy.data.actions)


@pytest.mark.slow
def test_background_runs_time_out_and_cancel(scene, live_server, hello_clip):
    from .characters import mesh_object

    obj = mesh_object("Face", ARKIT_FEW)
    bpy.context.view_layer.objects.active = obj
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        prefs.job_timeout = 0.1
        with pytest.raises(RuntimeError, match=r"Generate did not finish within 0.1 s and was cancelled"):
            bpy.ops.mouthpiece.generate()
        assert not session().job.running
    assert not any(actions.is_take(a) for a in bpy.data.actions)


@pytest.mark.slow
def test_auto_start_does_not_block_blender(scene, tmp_path, hello_clip):
    if not MOUTHPIECE.exists():
        pytest.skip("needs the project's .venv for 'mouthpiece serve'")
    from .characters import mesh_object

    obj = mesh_object("Face", ARKIT_FEW)
    bpy.context.view_layer.objects.active = obj
    url = f"http://127.0.0.1:{free_port()}"
    with enabled_addon() as prefs:
        _generate_settings(url, hello_clip, prefs)
        prefs.auto_start = True
        prefs.server_command = f"{MOUTHPIECE} serve --data-dir {tmp_path / 'data'}"
        try:
            op = StubGenerate()
            assert op._begin(bpy.context)  # returns at once: the server is started and waited for off the main thread
            assert not server_answers(url) and op.thread.is_alive()
            assert pump(op) == {"FINISHED"}, op.reports
            assert server_answers(url) and actions.takes_of(obj.name)
        finally:
            server_link.LOCAL_SERVER.stop(wait=30)


@pytest.mark.slow
@pytest.mark.skipif(not _sound_ok(), reason="this bpy build has no audio (bpy 4.2 from PyPI)")
def test_one_strip_per_clip_and_switching_takes_switches_it(scene, live_server, hello_clip, tmp_path):
    import shutil

    from blender_addon.sound import sound_strips

    from .characters import mesh_object

    other = tmp_path / "other.wav"
    shutil.copy(hello_clip, other)
    obj = mesh_object("Face", ARKIT_FEW)
    bpy.context.view_layer.objects.active = obj
    with enabled_addon() as prefs:
        _generate_settings(live_server, hello_clip, prefs)
        settings = scene.mouthpiece
        for emotion in ("happy", "sad"):
            settings.emotion = emotion
            assert bpy.ops.mouthpiece.generate() == {"FINISHED"}, session().job.error
        [strip] = sound_strips(scene)  # the same clip twice: one strip, playing once
        assert not strip.mute and scene.sync_mode == "AUDIO_SYNC"
        settings.audio_file = str(other)
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
        first, second = sound_strips(scene)
        assert (first.mute, second.mute) == (True, False)
        settings.take = "1"  # the Takes list switches the take and its sound
        assert (first.mute, second.mute) == (False, True)
        assert int(actions.current_take(head_ids(obj))[actions.TAKE_PROP]) == 1


def test_takes_list_shows_the_active_take_and_the_artists_own_action(scene):
    from blender_addon.bake import bake_track
    from blender_addon.properties import _takes
    from blender_addon.wire import read_track

    from .characters import mesh_object
    from .conftest import random_track

    obj = mesh_object("Face", ["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"])
    bpy.context.view_layer.objects.active = obj
    keys = obj.data.shape_keys
    keys.key_blocks["mouthSmileLeft"].value = 0.3
    keys.key_blocks["mouthSmileLeft"].keyframe_insert("value", frame=1)
    mine = keys.animation_data.action
    mine.name = "My smile"
    with enabled_addon():
        settings = scene.mouthpiece
        assert settings.take == "0" and [i[1] for i in _takes(None, bpy.context)] == ["(no takes yet)"]
        for seed in (1, 2):
            bake_track(obj, read_track(random_track(seed=seed).to_npz_bytes()), frame_start=1, fps=30.0)
        assert settings.take == "2"  # the list shows what plays
        assert [i[1] for i in _takes(None, bpy.context)] == [
            "Own animation: My smile", "MP builtin happy 0.7 #1", "MP builtin happy 0.7 #2"]  # fmt: skip
        settings.take = "0"  # one click back to the artist's own action
        assert keys.animation_data.action == mine and settings.take == "0"
        assert action_keys(mine)[('key_blocks["mouthSmileLeft"].value', 0)].tolist() == [[1.0, pytest.approx(0.3)]]
        settings.take = "1"
        assert keys.animation_data.action.name == "MP builtin happy 0.7 #1" and settings.take == "1"
        assert bpy.ops.mouthpiece.use_take(take=0) == {"FINISHED"} and keys.animation_data.action == mine
        with pytest.raises(RuntimeError, match="has no take 7"):
            bpy.ops.mouthpiece.use_take(take=7)


def test_preview_restores_every_scene_setting_and_frames_the_face(scene, tmp_path):
    from blender_addon.bake import bake_track
    from blender_addon.head import build_head
    from blender_addon.wire import read_rig, read_track
    from core.rigs import load_rig

    from .conftest import random_track

    head = build_head(read_rig(load_rig("arkit").to_npz_bytes()))
    bake_track(head, read_track(random_track(frames=4).to_npz_bytes()), frame_start=1)
    bpy.context.view_layer.objects.active = head
    mine = bpy.data.objects.new("My camera", bpy.data.cameras.new("My camera"))
    scene.collection.objects.link(mine)
    scene.camera = mine
    scene.world = bpy.data.worlds.new("My world")
    scene.world.color = (0.5, 0.4, 0.3)
    scene.render.resolution_x, scene.render.filepath = 1234, "//mine_"
    scene.frame_end = 2
    before = (set(bpy.data.objects), set(bpy.data.cameras), set(bpy.data.worlds))
    engine = scene.render.engine
    with enabled_addon():
        video = tmp_path / "preview.mp4"
        assert bpy.ops.mouthpiece.render_preview(filepath=str(video)) == {"FINISHED"}
        assert video.is_file() and video.stat().st_size > 0
    assert scene.camera == mine and tuple(scene.world.color) == pytest.approx((0.5, 0.4, 0.3))
    assert (scene.render.resolution_x, scene.render.filepath, scene.render.engine) == (1234, "//mine_", engine)
    assert (set(bpy.data.objects), set(bpy.data.cameras), set(bpy.data.worlds)) == before


def _frame_extent(scene, obj, indices) -> tuple[float, float, float, float]:
    from bpy_extras.object_utils import world_to_camera_view

    bpy.context.view_layer.update()
    co = np.array([world_to_camera_view(scene, scene.camera, obj.matrix_world @ obj.data.vertices[i].co)
                   for i in indices])  # fmt: skip
    return co[:, 0].min(), co[:, 0].max(), co[:, 1].min(), co[:, 1].max()


def test_preview_camera_frames_the_head_and_shoulders(scene):
    from blender_addon.preview import frame_camera

    from .characters import mesh_object

    body = mesh_object("Whole body", ["jawOpen"], z0=0.0, z1=1.8)  # a tall figure, 0 to 1.8 m
    head_rows = len(body.data.vertices)
    body.data.vertices.add(16)
    for i, (x, z) in enumerate(np.stack(np.meshgrid(np.linspace(-0.1, 0.1, 4), np.linspace(1.55, 1.8, 4)), -1)
                               .reshape(-1, 2)):  # fmt: skip
        body.data.vertices[head_rows + i].co = (float(x), -0.1, float(z))
    group = body.vertex_groups.new(name="CC_Base_Head")
    group.add(list(range(head_rows, head_rows + 16)), 1.0, "REPLACE")
    scene.render.resolution_x, scene.render.resolution_y = 640, 640
    frame_camera(scene, body, head_bone="CC_Base_Head")
    x0, x1, y0, y1 = _frame_extent(scene, body, range(head_rows, head_rows + 16))
    assert 0.6 < y1 - y0 < 0.8 and 0.88 < y1 < 0.97  # the head fills the frame under a little headroom
    assert 0.0 < x0 < x1 < 1.0
    whole = _frame_extent(scene, body, range(head_rows))
    assert whole[2] < 0.0  # the body below the shoulders is out of frame


def test_switching_takes_on_a_walking_body_keeps_the_walk(scene):
    from blender_addon.bake import bake_track
    from blender_addon.wire import read_track

    from .conftest import random_track

    head, arm, walk = body_character(["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"])
    frames = range(1, 50)
    before = bone_samples(arm, frames)
    first = bake_track(head, read_track(random_track(seed=1).to_npz_bytes()), frame_start=1, bones={"head": "head"})
    second = bake_track(head, read_track(random_track(seed=2).to_npz_bytes()), frame_start=1, bones={"head": "head"})
    ids = head_ids(head)
    track = arm.animation_data.nla_tracks[actions.NLA_TRACK]
    assert len(arm.animation_data.nla_tracks) == 1 and len(track.strips) == 1
    assert int(track.strips[0].action[actions.TAKE_PROP]) == second.take
    actions.use_take(first.take, ids)
    assert int(track.strips[0].action[actions.TAKE_PROP]) == first.take and arm.animation_data.action == walk
    layered = bone_samples(arm, frames)
    actions.use_own(ids)  # back to the artist's own animation: the walk alone, the take's track muted
    assert track.mute and arm.animation_data.action == walk and head.data.shape_keys.animation_data.action is None
    alone = bone_samples(arm, frames)
    for bone in ("root", "spine", "neck", "head"):
        np.testing.assert_allclose(alone[bone], before[bone], atol=1e-6, err_msg=bone)
    for bone in ("root", "spine", "neck"):
        np.testing.assert_allclose(layered[bone], before[bone], atol=1e-6, err_msg=bone)
    assert actions.current_take(ids) is None
    actions.use_take(second.take, ids)
    assert not track.mute and int(actions.current_take(ids)[actions.TAKE_PROP]) == second.take


def test_the_mapping_choice_is_kept_by_id_in_the_blend(scene, tmp_path, presets_dir):
    from blender_addon import mapping

    with enabled_addon():
        settings = bpy.context.scene.mouthpiece
        settings.mapping_preset = "vroid"
        mapping.save_preset("aaa first", {"name": "Mine", "names": {}})  # sorts before every built-in preset
        assert settings.mapping_preset == "vroid"
        path = tmp_path / "shot.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path))
        bpy.ops.wm.open_mainfile(filepath=str(path))
        assert bpy.context.scene.mouthpiece.mapping_preset == "vroid"


def test_a_name_fixed_by_hand_in_the_mapping_table_wins(scene):
    from .characters import mesh_object
    from .conftest import random_track

    obj = mesh_object("Face", ["jawOpen", "MyJaw", "mouthSmileLeft", "eyeBlinkLeft"])
    bpy.context.view_layer.objects.active = obj
    with enabled_addon():
        assert bpy.ops.mouthpiece.fill_mapping_table() == {"FINISHED"}
        rows = {row.channel: row for row in obj.mouthpiece.fixes}
        assert len(rows) == 52 and rows["jawOpen"].key == "jawOpen" and rows["cheekPuff"].key == ""
        rows["jawOpen"].key = "MyJaw"  # the artist picks the right key by hand
        plan = takes.plan_take(bpy.context, obj)
        line = takes.apply_track(bpy.context, obj, random_track().to_npz_bytes(), "", 1, False, plan=plan)
        assert line.startswith("MP builtin happy 0.7 #1: frames 1–59, 3 channels")
    keyed = {path for path, _ in action_keys(obj.data.shape_keys.animation_data.action)}
    assert 'key_blocks["MyJaw"].value' in keyed and 'key_blocks["jawOpen"].value' not in keyed  # over the exact name


@pytest.mark.slow
def test_the_first_server_check_runs_off_the_main_thread(scene, live_server):

    with enabled_addon() as prefs:
        prefs.server_url = f"http://127.0.0.1:{free_port()}"
        server_link.refresh_server_in_background(bpy.context).join(10)
        assert session().health is None and "cannot reach the Mouthpiece server" in session().error
        prefs.server_url = live_server
        server_link.refresh_server_in_background(bpy.context).join(60)
        assert session().health["status"] == "ok" and session().error == ""
        assert "builtin" in [e["name"] for e in session().engines]


def test_bones_are_suggested_once_and_cleared_picks_stay_cleared(scene):
    from .conftest import random_track

    head, arm, walk = body_character(["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"])
    with enabled_addon():
        settings = scene.mouthpiece
        plan = takes.plan_take(bpy.context, head)
        assert plan.bones == {"head": "head", "neck": "neck"} and settings.bones_armature == "Body rig"
        line = takes.apply_track(bpy.context, head, random_track().to_npz_bytes(), "", 1, False, plan=plan)
        assert ", bones head, neck;" in line  # the track's jaw and eye rotations find no picked bone
        settings.bone_head = settings.bone_neck = ""  # the artist wants shape keys only
        plan = takes.plan_take(bpy.context, head)
        assert plan.bones == {} and not [w for w in plan.warnings if "bone" in w]
        takes.apply_track(bpy.context, head, random_track(seed=2).to_npz_bytes(), "", 1, False, plan=plan)
    second = [a for a in bpy.data.actions if a.get(actions.TAKE_PROP) == 2]
    assert not [p for a in second for p, _ in action_keys(a) if p.startswith("pose.bones")]
    assert arm.animation_data.action == walk


@pytest.mark.slow
def test_add_head_downloads_the_rig_off_the_main_thread(scene, live_server):
    class StubAddHead(operators.AddHeadJob):
        bl_label = "Add Head"

        def __init__(self) -> None:
            self.reports: list[tuple[str, str]] = []

        def report(self, kind: set[str], text: str) -> None:
            self.reports.append((next(iter(kind)), text))

    with enabled_addon() as prefs:
        prefs.server_url = live_server
        op = StubAddHead()
        assert op._begin(bpy.context) and session().job.running  # returns at once; the download runs on its thread
        assert pump(op) == {"FINISHED"} and not session().job.running, op.reports
        head = bpy.context.object
        assert head.name == "Mouthpiece Head" and len(head.data.shape_keys.key_blocks) == 53
        assert session().job.status.startswith("Added Mouthpiece Head: 52 shape keys")
