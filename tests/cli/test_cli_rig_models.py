"""`mouthpiece rig`, `import-flame` and `models` through the real CLI entry point."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from cli import main as cli
from core.rig import FaceRig
from tests.synthetic_assets import write_bfm_mat, write_flame_pkl


@pytest.fixture
def mouthpiece(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture):
    """The real entry point with a private models folder: argv → (exit code, stdout, stderr)."""
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "models"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_import_flame_then_rig_npz_and_glb(mouthpiece, tmp_path: Path) -> None:
    pkl = tmp_path / "generic_model.pkl"
    write_flame_pkl(pkl)
    code, out, _ = mouthpiece("import-flame", pkl)
    assert code == 0
    assert "FLAME 2020" in out and "40 vertices" in out and "100 expression" in out
    assert (tmp_path / "models" / "flame.npz").is_file()

    code, out, _ = mouthpiece("rig", "flame", "-o", tmp_path / "flame_rig.npz")
    assert code == 0 and "100 channels, 5 joints" in out
    rig = FaceRig.from_npz(tmp_path / "flame_rig.npz")
    assert rig.channels[99] == "exp099"

    code, _, _ = mouthpiece("rig", "flame", "-o", tmp_path / "flame.glb")
    data = (tmp_path / "flame.glb").read_bytes()
    (json_len,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20 : 20 + json_len])
    assert code == 0 and doc["meshes"][0]["extras"]["targetNames"] == rig.channels


def test_import_flame_with_shape_and_output(mouthpiece, tmp_path: Path) -> None:
    pkl = tmp_path / "flame2023.pkl"
    a = write_flame_pkl(pkl)
    np.save(tmp_path / "shape.npy", np.ones(10))
    code, out, _ = mouthpiece("import-flame", pkl, "-o", tmp_path / "me.npz", "--shape", tmp_path / "shape.npy")
    assert code == 0 and "FLAME 2023" in out and "EMOTE" in out and "10 shape coefficients" in out
    rig = FaceRig.from_npz(tmp_path / "me.npz")
    np.testing.assert_allclose(rig.vertices, a["v_template"] + a["shapedirs"][:, :, :10].sum(2), atol=1e-6)


def test_rig_bfm(mouthpiece, tmp_path: Path) -> None:
    (tmp_path / "models" / "BFM").mkdir(parents=True)
    write_bfm_mat(tmp_path / "models" / "BFM" / "BFM_model_front.mat")
    code, out, _ = mouthpiece("rig", "bfm", "-o", tmp_path / "bfm.npz")
    assert code == 0 and "120 vertices, 64 channels" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("import-flame", "{tmp}/missing.pkl"), "not found"),
        (("import-flame", "{tmp}/junk.pkl"), "not a readable pickle"),
        (("import-flame", "{tmp}/model.obj"), "expected a FLAME .pkl"),
        (("import-flame", "{tmp}/junk.pkl", "-o", "{tmp}/out.glb"), "must end in .npz"),
        (("rig", "flame", "-o", "{tmp}/x.npz"), "mouthpiece import-flame"),
        (("rig", "bfm", "-o", "{tmp}/x.npz"), "BFM_model_front.mat"),
        (("rig", "bfm", "-o", "{tmp}/x.obj"), "must end in .npz or .glb"),
        (("rig", "smpl", "-o", "{tmp}/x.npz"), "unknown rig 'smpl'"),
    ],
)
def test_wrong_input_is_one_line_exit_2(mouthpiece, tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    (tmp_path / "junk.pkl").write_bytes(b"this is not a pickle")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    code, out, err = mouthpiece(*(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"mouthpiece {argv[0]}: error:") and message in err


def test_models_lists_engines_and_rigs(mouthpiece, tmp_path: Path) -> None:
    code, out, _ = mouthpiece("models")
    assert code == 0
    for word in ("builtin", "emote", "styletalk", "sadtalker", "flame", "bfm", "arkit"):
        assert word in out
    assert "SadTalker_V0.0.2_256.safetensors" in out.replace("\n", "").replace(" ", "") or "sadtalker" in out
    assert "import-flame" in out and str(tmp_path / "models") in out.replace("\n", "")
