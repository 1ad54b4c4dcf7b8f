"""core.rigs: finding the arkit / flame / bfm rigs and reporting what is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from core import flame, rigs
from core.arkit import ARKIT_CHANNELS
from core.errors import InputError, ModelMissingError
from tests.synthetic_assets import write_bfm_mat, write_flame_pkl


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_missing_licensed_rigs_say_what_to_do(models: Path) -> None:
    with pytest.raises(ModelMissingError, match="mouthpiece import-flame"):
        rigs.load_rig("flame")
    with pytest.raises(ModelMissingError, match=str(models / "BFM" / "BFM_model_front.mat")):
        rigs.load_rig("bfm")
    with pytest.raises(InputError, match="unknown rig 'smpl'"):
        rigs.load_rig("smpl")
    status = {s.name: s for s in rigs.rig_status()}
    assert not status["flame"].ready and "import-flame" in status["flame"].message
    assert not status["bfm"].ready and status["bfm"].path.endswith("BFM_model_front.mat")
    assert status["arkit"].ready


def test_flame_rig_after_import(models: Path, tmp_path: Path) -> None:
    write_flame_pkl(tmp_path / "generic_model.pkl")
    model = flame.load_flame_pkl(tmp_path / "generic_model.pkl")
    flame.save_flame_npz(model, model.to_rig(), rigs.flame_npz_path())
    rig = rigs.load_rig("flame")
    assert rig.name == "flame" and len(rig.channels) == 100 and rig.joint_names[2] == "jaw"
    assert {s.name: s.ready for s in rigs.rig_status()}["flame"]


def test_bfm_rig_from_mat_is_cached(models: Path) -> None:
    rigs.bfm_mat_path().parent.mkdir(parents=True)
    write_bfm_mat(rigs.bfm_mat_path())
    rig = rigs.load_rig("bfm")
    assert rig.channels[-1] == "exp63"
    assert rigs.bfm_npz_path().is_file()
    rigs.bfm_mat_path().unlink()
    assert rigs.load_rig("bfm").channels == rig.channels  # served from bfm.npz now


MESHES = Path(__file__).resolve().parents[2] / "meshes"


@pytest.mark.skipif(
    importlib.util.find_spec("meshes") is None or not list(MESHES.glob("*.npz")),
    reason="the built-in head asset (meshes/*.npz) is not built in this checkout yet",
)
def test_arkit_rig_is_the_builtin_head() -> None:
    rig = rigs.load_rig("arkit")
    assert rig.name == "arkit" and set(ARKIT_CHANNELS) <= set(rig.channels)
