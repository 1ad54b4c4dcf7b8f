"""The one animate pipeline (core.pipeline) on the real builtin engine and a short clip of real speech."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.audio import SAMPLE_RATE, load_audio
from core.engines import get_engine
from core.engines.base import EngineOptions
from core.errors import Cancelled, InputError, ModelMissingError
from core.head_motion import POSE_STYLES
from core.pipeline import AnimateRequest, animate, flame_version_warning
from core.track import Track

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello.wav"


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """The first 1.5 s of examples/hello.wav ("Hello! My name...")."""
    return load_audio(HELLO)[: int(1.5 * SAMPLE_RATE)]


@pytest.fixture(scope="module")
def builtin():
    return get_engine("builtin")


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    """An empty models folder: no FLAME, no BFM, no SadTalker weights."""
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def _recorder() -> tuple[list[tuple[float, str]], object]:
    seen: list[tuple[float, str]] = []
    return seen, lambda fraction, message: seen.append((fraction, message))


def test_native_rate_and_a_requested_rate(builtin, clip, models) -> None:
    native = animate(builtin, clip, AnimateRequest(seed=2))
    assert native.fps == 60.0 and native.num_frames == round(1.5 * 60)
    at24 = animate(builtin, clip, AnimateRequest(seed=2, fps=24))
    assert at24.fps == 24.0 and at24.num_frames == round(1.5 * 24)
    # the builtin engine computes at the requested rate itself: nothing is resampled (no blur of closures)
    assert "resampled_from_fps" not in at24.meta
    direct = builtin.run(clip, EngineOptions(seed=2, fps=24))
    np.testing.assert_array_equal(at24.values, direct.values)
    np.testing.assert_array_equal(at24.rotations["head"], direct.rotations["head"])


def test_head_motion_engine_and_none(builtin, clip, models) -> None:
    moving = animate(builtin, clip, AnimateRequest(head_motion="engine"))
    assert np.ptp(moving.rotations["head"], axis=0).max() > 1e-3
    still = animate(builtin, clip, AnimateRequest(head_motion="none"))
    assert np.abs(still.rotations["head"]).max() == 0.0
    np.testing.assert_array_equal(still.channel("jawOpen"), moving.channel("jawOpen"))  # only the head changes


def test_sadtalker_head_motion_without_weights_fails_before_the_engine_runs(builtin, clip, models) -> None:
    seen, progress = _recorder()
    request = AnimateRequest(head_motion="sadtalker", pose_style=3)
    assert request.adds_posevae and request.options().extra["head_motion"] is False
    assert "pose_style" not in request.options().extra, "the pose style is PoseVAE's, not the engine's"
    with pytest.raises(ModelMissingError, match=re.escape(str(models / "sadtalker"))):
        animate(builtin, clip, request, progress)
    assert seen == []
    own = AnimateRequest(engine="sadtalker", head_motion="sadtalker", pose_style=3)
    assert not own.adds_posevae and own.options().extra == {
        "blinks": True,
        "head_motion": True,
        "eye_motion": True,
        "pose_style": 3,
    }


def test_a_missing_rig_fails_before_the_engine_runs(builtin, clip, models) -> None:
    seen, progress = _recorder()
    with pytest.raises(ModelMissingError, match="FLAME rig is not imported"):
        animate(builtin, clip, AnimateRequest(rig="flame"), progress)
    with pytest.raises(InputError, match="unknown rig 'mesh'"):
        animate(builtin, clip, AnimateRequest(rig="mesh"), progress)
    assert seen == []
    assert animate(builtin, clip, AnimateRequest(rig="arkit")).rig == "arkit"  # its own rig: nothing to do


def test_cancel_before_and_between_steps(builtin, clip) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        animate(builtin, clip, AnimateRequest(), cancel=cancel)
    cancel.clear()
    seen: list[float] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        cancel.set()  # the user presses cancel as soon as the first progress shows

    with pytest.raises(Cancelled):
        animate(builtin, clip, AnimateRequest(), progress, cancel)
    assert seen and max(seen) < 1.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pose_style": 3}, "pose style applies to SadTalker head motion or the sadtalker engine only"),
        ({"head_motion": "sadtalker", "pose_style": POSE_STYLES}, r"0\.\.45"),
        ({"head_motion": "posevae"}, "head motion must be one of engine, sadtalker, none"),
        ({"emotion": "bored"}, "unknown emotion 'bored'"),
        ({"intensity": 1.5}, "intensity must be between 0 and 1"),
        ({"fps": 500}, "fps must be between 1 and 240"),
    ],
)
def test_a_bad_request_is_refused_when_built(fields, message) -> None:
    with pytest.raises(InputError, match=message):
        AnimateRequest(**fields)


def test_flame_version_warning(tmp_path, models) -> None:
    from core.flame import load_flame_pkl, save_flame_npz
    from tests.synthetic_assets import write_flame_pkl

    take = Track(
        fps=25, rig="flame", channels=["exp000"], values=np.zeros((3, 1)), meta={"expects_flame": "FLAME 2020"}
    )
    assert flame_version_warning(take) is None  # no FLAME imported: nothing to compare
    pkl = tmp_path / "flame2023.pkl"
    write_flame_pkl(pkl)
    model = load_flame_pkl(pkl)
    assert model.version == "2023"
    save_flame_npz(model, model.to_rig(), models / "flame.npz")
    assert (
        flame_version_warning(take) == "this engine's parameters belong to FLAME 2020, but the imported FLAME is 2023"
    )
    take.meta["expects_flame"] = "FLAME 2023"
    assert flame_version_warning(take) is None
    assert flame_version_warning(Track(fps=25, rig="flame", channels=[], values=np.zeros((3, 0)))) is None


def test_pose_styles_are_written_once_and_mirrored_in_the_add_on() -> None:
    """The add-on cannot import core: its copy of the number of PoseVAE styles must stay equal."""
    text = (REPO / "blender_addon" / "properties.py").read_text(encoding="utf-8")
    [mirror] = re.findall(r"^POSE_STYLES = (\d+)", text, flags=re.MULTILINE)
    assert int(mirror) == POSE_STYLES == 46
    from core.engines.sadtalker.posevae import PoseVAEDims

    assert PoseVAEDims().num_classes == POSE_STYLES


def test_the_pipeline_imports_no_torch() -> None:
    code = "import sys, core.pipeline; print([m for m in ('torch', 'scipy.spatial') if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.strip() == "[]", proc.stderr


@pytest.mark.slow
def test_retarget_and_resample_with_progress(builtin, clip, models) -> None:
    """builtin (ARKit, 60 fps native) → 30 fps → the FLAME rig (synthetic, made from the built-in head)."""
    from core.flame import load_flame_pkl, save_flame_npz
    from core.retarget.synthetic import flame_arrays
    from meshes import load_head
    from tests.synthetic_assets import write_flame_pkl

    pkl = models.parent / "generic_model.pkl"
    write_flame_pkl(pkl, flame_arrays(load_head())[0])
    model = load_flame_pkl(pkl)
    save_flame_npz(model, model.to_rig(), models / "flame.npz")
    seen, progress = _recorder()
    take = animate(builtin, clip, AnimateRequest(fps=30, rig="flame"), progress)
    assert take.rig == "flame" and take.fps == 30 and take.num_frames == 45
    assert take.meta["retargeted_from"] == "arkit" and take.values.std(axis=0).max() > 1e-3
    assert seen[-2:] == [(1.0, "done"), (0.95, "retargeting onto the flame rig")]


@pytest.mark.slow
def test_sadtalker_head_motion_fills_the_last_tenth_of_the_progress(builtin, clip, tmp_path, models) -> None:
    from tests.core.sadtalker_layout import write_weights

    weights = tmp_path / "posevae.safetensors"
    write_weights(weights, seed=1)
    seen, progress = _recorder()
    request = AnimateRequest(fps=30, head_motion="sadtalker", pose_style=4, seed=3)
    take = animate(builtin, clip, request, progress, posevae_weights=weights)
    assert seen[-1] == (0.9, "adding SadTalker head motion")
    assert max(f for f, _ in seen[:-1]) == pytest.approx(0.9)  # the engine's 1.0, scaled
    assert take.fps == 30 and take.meta["head_motion"] == {
        "source": "sadtalker",
        "pose_style": 4,
        "seed": 3,
        "replaced_engine_head": True,
    }
    assert np.ptp(take.rotations["head"], axis=0).max() > 0
