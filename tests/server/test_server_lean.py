"""The HTTP process stays lean: engines (and torch) live in the engine process, never in the server's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BUILD_THE_APP = """
import sys
from server.app import create_app
from server.settings import Settings

app = create_app(Settings(data_dir=sys.argv[1]))
print(app.state.server.device, sorted(m for m in ("torch", "safetensors", "transformers") if m in sys.modules))
"""


def test_importing_and_building_the_app_loads_no_torch(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOUTHPIECE_MODELS": str(tmp_path / "models")}
    run = subprocess.run(
        [sys.executable, "-c", BUILD_THE_APP, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    device, loaded = run.stdout.split(" ", 1)
    assert device in ("cpu", "cuda") and loaded.strip() == "[]"


ASK_ABOUT_EVERY_ENGINE = """
import io, sys
import numpy as np, soundfile as sf
from fastapi.testclient import TestClient
from server.app import create_app
from server.settings import Settings

wav = io.BytesIO()
sf.write(wav, np.zeros(16000, dtype=np.float32), 16000, format="WAV")
app = create_app(Settings(data_dir=sys.argv[1], device="cpu"))
with TestClient(app, base_url="http://127.0.0.1:8765") as client:
    ready = {e["name"]: e["ready"] for e in client.get("/v1/models").json()["engines"]}
    refused = [
        client.post("/v1/jobs", files={"audio": ("a.wav", wav.getvalue())}, data={"params": '{"engine": "%s"}' % e})
        for e in ("styletalk", "sadtalker")
    ]
    print(ready, [r.status_code for r in refused])
    print(sorted(m for m in ("torch", "safetensors", "transformers") if m in sys.modules))
"""


def test_reporting_and_refusing_engines_loads_no_torch(tmp_path: Path) -> None:
    """/v1/models and a refused neural job build the engines' front ends only; their nets stay unloaded."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOUTHPIECE_MODELS": str(tmp_path / "models")}
    run = subprocess.run(
        [sys.executable, "-c", ASK_ABOUT_EVERY_ENGINE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    engines, loaded = run.stdout.strip().splitlines()[-2:]
    assert engines == "{'builtin': True, 'emote': False, 'styletalk': False, 'sadtalker': False} [409, 409]"
    assert loaded == "[]"
