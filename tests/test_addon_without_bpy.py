"""The add-on's pure modules (wire, rotations, client, jobs, reduce) import and work where bpy, core and
torch cannot be imported: `import blender_addon` does not import bpy (Blender's parts load in register())."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.lbs import axis_angle_to_matrix
from core.track import Track

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, queue, sys, threading
sys.path.insert(0, sys.argv[1])
for blocked in ("bpy", "mathutils", "core", "torch"):
    sys.modules[blocked] = None  # any import of these fails
import numpy as np
import blender_addon
from blender_addon import client, jobs, reduce, rotations, wire

track = wire.read_track(open(sys.argv[2], "rb").read())
quats = rotations.axis_angle_to_quat(track.rotations["jaw"])
events, cancel = queue.Queue(), threading.Event()
jobs.run_job(client.Client(sys.argv[3]), sys.argv[2], {}, events, cancel)
try:
    import blender_addon.bake
    bake = "imported"
except ImportError as exc:
    bake = str(exc)
print(json.dumps({
    "fps": track.fps, "channels": track.channels, "values": track.values.tolist(),
    "matrices": rotations.quat_to_matrix(quats).tolist(),
    "kept": reduce.reduce_keys(np.array([0.0, 1.0, 2.0, 3.0, 0.0]), 0.01).tolist(),
    "events": [(ev.kind, ev.text) for ev in [events.get() for _ in range(events.qsize())]],
    "register": callable(blender_addon.register), "bpy": sys.modules["bpy"] is None, "bake": bake,
}))
"""


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_pure_addon_modules_work_without_bpy_core_or_torch(tmp_path):
    rng = np.random.default_rng(0)
    track = Track(fps=25.0, rig="arkit", channels=["jawOpen", "mouthSmileLeft"], values=rng.random((6, 2)),
                  rotations={"jaw": rng.normal(0, 0.3, (6, 3))})  # fmt: skip
    path = tmp_path / "take.json"
    path.write_text(track.to_json())
    url = _closed_port_url()
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO), str(path), url], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["fps"] == 25.0 and got["channels"] == track.channels
    np.testing.assert_allclose(got["values"], track.values, atol=1e-6)
    np.testing.assert_allclose(got["matrices"], axis_angle_to_matrix(track.rotations["jaw"]), atol=1e-6)
    assert got["kept"] == [0, 3, 4]
    [(kind, text)] = got["events"]
    assert kind == "error" and text.startswith(f"cannot reach the Mouthpiece server at {url}")
    assert got["register"] and got["bpy"]
    assert "bpy" in got["bake"]  # the check can fail: a module that needs Blender does not import here
