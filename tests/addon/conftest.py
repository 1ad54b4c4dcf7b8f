"""Fixtures for the add-on tests: a fresh empty Blender scene and small synthetic rigs and tracks."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from core.rig import FaceRig  # noqa: E402
from core.track import Track  # noqa: E402

JOINTS = ["head", "neck", "jaw", "eye_L", "eye_R"]


@pytest.fixture(autouse=True)
def presets_dir(tmp_path, monkeypatch):
    """Saved mapping presets go to a temporary folder, not the user's Blender config."""
    from blender_addon import mapping

    folder = tmp_path / "presets"
    folder.mkdir()
    monkeypatch.setattr(mapping, "user_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def fresh_session():
    """Every test starts with a new add-on session (server answers, jobs' live state) and leaves none behind."""
    from blender_addon import server_link

    server_link.reset_session()
    yield server_link.session()
    server_link.reset_session()


@pytest.fixture
def scene():
    """An empty scene at 30 fps, frames 1..1."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    s = bpy.context.scene
    s.render.fps, s.render.fps_base = 30, 1.0
    s.frame_start = s.frame_end = 1
    return s


def grid_rig(name: str = "arkit", *, joints: bool = True, correctives: bool = False, up: str = "Z") -> FaceRig:
    """A 4x3 vertex grid: 6 quads, the last one split into two triangles (-1 in the 4th column)."""
    xs, zs = np.meshgrid(np.linspace(-0.1, 0.1, 4), np.linspace(0.0, 0.2, 3))
    verts = np.stack([xs.ravel(), np.zeros(12), zs.ravel()], axis=1).astype(np.float32)
    if up == "Y":
        verts = verts[:, [0, 2, 1]] * np.array([1, 1, -1], np.float32)
    quads = [[r * 4 + c, r * 4 + c + 1, (r + 1) * 4 + c + 1, (r + 1) * 4 + c] for r in range(2) for c in range(3)]
    a, b, c, d = quads.pop()
    faces = np.array([*quads, [a, b, c, -1], [a, c, d, -1]], dtype=np.int32)
    rng = np.random.default_rng(0)
    channels = ["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"]
    basis = rng.normal(0, 0.01, (3, 12, 3)).astype(np.float32)
    kw: dict = {}
    if joints:
        weights = np.zeros((12, 5), np.float32)
        weights[:, 0] = 1.0
        weights[:4, 0], weights[:4, 2] = 0.25, 0.75  # bottom row follows the jaw
        weights[4, 0], weights[4, 3] = 0.0, 1.0
        weights[7, 0], weights[7, 4] = 0.0, 1.0
        pos = rng.normal(0, 0.05, (5, 3)).astype(np.float32)
        kw = dict(joint_names=JOINTS, joint_parents=[-1, 0, 1, 1, 1], joint_positions=pos, skin_weights=weights)
        if correctives:
            kw["pose_correctives"] = rng.normal(0, 0.001, (36, 12, 3)).astype(np.float32)
    return FaceRig(
        name=name, vertices=verts, faces=faces, channels=channels, basis=basis,
        landmarks={"chin": 1}, meta={"up": f"+{up}"}, **kw,
    )  # fmt: skip


def random_track(frames: int = 50, fps: float = 25.0, *, seed: int = 1, meta: dict | None = None) -> Track:
    """A smooth random track on the grid rig's channels with jaw/neck/eye/head rotations."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    values = 0.5 + 0.4 * np.sin(2 * np.pi * (0.7 + rng.random(3)) * t + rng.random(3) * 6)
    rot = {k: (0.3 * np.sin(2 * np.pi * (0.5 + rng.random(3)) * t + rng.random(3))) for k in JOINTS[1:]}
    rot["head"] = 0.2 * np.cos(2 * np.pi * 0.3 * t + rng.random(3))
    return Track(
        fps=fps, rig="arkit", channels=["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"], values=values,
        rotations=rot, meta=meta or {"engine": "builtin", "emotion": "happy", "intensity": 0.7},
    )  # fmt: skip


def key_frames(id_block, path: str) -> list[float]:
    """The frames of the keys of F-curve ``path`` in the action playing on ``id_block`` (slotted or classic)."""
    from blender_addon import actions

    anim = id_block.animation_data
    if actions.slotted_actions():
        curves = anim.action.layers[0].strips[0].channelbag(anim.action_slot).fcurves
    else:
        curves = anim.action.fcurves
    return [key.co[0] for key in curves.find(path).keyframe_points]


REPO = Path(__file__).resolve().parents[2]
MOUTHPIECE = REPO / ".venv" / "bin" / "mouthpiece"  # the project's own command, whichever bpy runs the tests
HELLO = REPO / "examples" / "hello.wav"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def mouthpiece_serve(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real ``mouthpiece serve`` process on a free 127.0.0.1 port (so the bpy 4.2 tests have one too);
    ``env`` adds environment variables (a models folder)."""
    if not MOUTHPIECE.exists():
        pytest.skip("needs the project's .venv (bash scripts/setup.sh) for 'mouthpiece serve'")
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(MOUTHPIECE), "serve", "--port", url.rsplit(":", 1)[1], "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 180  # a cold start on a busy machine
        while not server_answers(url):
            assert process.poll() is None and time.monotonic() < deadline, "mouthpiece serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    """One real server for a test module; yields its URL."""
    with mouthpiece_serve(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def hello_clip(tmp_path_factory) -> Path:
    """The first 2 s of examples/hello.wav ("Hello! My name is..."), 16 kHz."""
    import soundfile

    samples, rate = soundfile.read(str(HELLO), dtype="float32")
    path = tmp_path_factory.mktemp("clip") / "hello2s.wav"
    soundfile.write(str(path), samples[: 2 * rate], rate)
    return path


@contextmanager
def enabled_addon() -> Iterator[bpy.types.AddonPreferences]:
    """The add-on registered as Blender loads it; yields its preferences."""
    import addon_utils

    module = addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    assert module is not None, "the add-on did not load"
    try:
        yield bpy.context.preferences.addons["blender_addon"].preferences
    finally:
        addon_utils.disable("blender_addon", default_set=True)
