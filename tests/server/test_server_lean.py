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
