"""Model file names, default places and "weights missing" messages, from one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.engines import ENGINES
from core.model_files import ENGINE_FILES, RENDERER, SADTALKER, weight_layout

REPO = Path(__file__).resolve().parents[2]


def test_default_paths_follow_the_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path))
    assert SADTALKER.default_path() == tmp_path / "sadtalker" / "SadTalker_V0.0.2_256.safetensors"
    assert RENDERER.default_path() == tmp_path / "styletalk" / "renderer_checkpoint.pt"
    assert SADTALKER.missing_message() == (
        "SadTalker weights missing: put SadTalker_V0.0.2_256.safetensors (the official release's checkpoints/) "
        f"at {tmp_path / 'sadtalker' / 'SadTalker_V0.0.2_256.safetensors'}"
    )
    assert RENDERER.missing_message(Path("/x/r.pt")) == (
        "renderer weights missing: put renderer_checkpoint.pt (from the official StyleTalk release) at /x/r.pt"
    )


def test_every_engine_says_where_its_files_go() -> None:
    assert set(ENGINE_FILES) == set(ENGINES)
    assert weight_layout("builtin") == "nothing to download"
    assert weight_layout("styletalk") == "styletalk/styletalk_checkpoint.pth and styletalk/renderer_checkpoint.pt"
    assert weight_layout("sadtalker") == "sadtalker/SadTalker_V0.0.2_256.safetensors"
    assert weight_layout("emote") == "emote/EMOTE_v2"


def test_the_table_is_torch_free() -> None:
    probe = "import sys, core.model_files; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert run.stdout.strip() == "False"
