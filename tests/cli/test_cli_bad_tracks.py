"""`mouthpiece render-video --track` with broken or hostile track files, and `animate --style` with broken `.mat`
style clips: one line, exit 2, no traceback."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import soundfile as sf

from cli.main import main
from core.track import FORMAT
from tests.support.hostile import mat_v73, npz_track_declaring


def _npz(path: Path, **arrays) -> None:
    base = {"format": np.array(FORMAT), "fps": np.array(30.0), "rig": np.array("bfm"), "channels": np.array(["c"])}
    np.savez(path, **{**base, **arrays})


def _declared_only(path: Path) -> None:
    """A track whose values.npy header declares 10⁸ frames and holds none of them."""
    small = io.BytesIO(npz_track_declaring(1, 73))
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(path, "w") as out:
        for name in src.namelist():
            if name != "values.npy":
                out.writestr(name, src.read(name))
        with out.open("values.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**8, 73)})


def _write(kind: str, path: Path) -> None:
    if kind == "object array":
        _npz(path, values=np.array([[{}]], dtype=object))
    elif kind == "string values":
        _npz(path, values=np.array([["loud"]]))
    elif kind == "bad meta":
        _npz(path, values=np.zeros((3, 1), np.float32), meta=np.array("{not json"))
    elif kind == "truncated":
        whole = npz_track_declaring(300)
        path.write_bytes(whole[: len(whole) // 2])
    elif kind == "10^8 frames":
        _declared_only(path)
    elif kind == "json fps text":
        path.write_text(json.dumps({"format": FORMAT, "fps": "fast", "rig": "bfm", "channels": ["c"], "values": [[0]]}))
    elif kind == "json values text":
        path.write_text(json.dumps({"format": FORMAT, "fps": 30, "rig": "bfm", "channels": ["c"], "values": "abc"}))


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("object array", "Object arrays cannot be loaded"),
        ("string values", "could not convert string to float"),
        ("bad meta", "not a track .npz file"),
        ("truncated", "not a track .npz file"),
        ("10^8 frames", "declares a 100000000×73 array"),
        ("json fps text", "not a valid track JSON"),
        ("json values text", "track JSON values must be a list of rows of numbers"),
    ],
)
def test_bad_track_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, detail: str):
    track = tmp_path / ("take.json" if kind.startswith("json") else "take.npz")
    _write(kind, track)
    out = ("--image", str(tmp_path / "p.png"), "--audio", str(tmp_path / "a.wav"), "-o", str(tmp_path / "o.mp4"))
    status = main(["render-video", "--track", str(track), *out, "-q"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("mouthpiece render-video: error: ") and err.count("\n") == 1, err
    assert detail in err


def _bad_mat(kind: str, path: Path) -> None:
    if kind == "v7.3":
        path.write_bytes(mat_v73())
    elif kind == "complex":
        scipy.io.savemat(path, {"coeff_3dmm": np.ones((4, 70)) * 1j, "coeff": np.ones((4, 257)) * 1j})
    else:
        whole = io.BytesIO()
        scipy.io.savemat(whole, {"coeff_3dmm": np.zeros((40, 70)), "coeff": np.zeros((40, 257))})
        path.write_bytes(whole.getvalue()[:3000])


MAT_DETAILS = {
    "v7.3": "is a MATLAB v7.3 (HDF5) file, which cannot be read here; save it again as v7",
    "complex": "holds complex numbers",
    "truncated": "not a MATLAB .mat file, or a corrupt or cut-short one",
}


@pytest.mark.parametrize("kind", MAT_DETAILS)
def test_bad_mat_tracks_and_style_clips_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference_dir: Path, kind: str
) -> None:
    mat = tmp_path / "take.mat"
    _bad_mat(kind, mat)
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    video = ("--image", str(tmp_path / "p.png"), "--audio", str(tmp_path / "a.wav"), "-o", str(tmp_path / "o.mp4"))
    styletalk = ("--engine", "styletalk", "--checkpoint", str(reference_dir / "styletalk_small.pth"), "--device", "cpu")
    animate = (*styletalk, "--style", str(mat), str(tmp_path / "a.wav"), "-o", str(tmp_path / "take.npz"), "-q")
    for command, args in (("render-video", ("--track", str(mat), *video, "-q")), ("animate", animate)):
        status = main([command, *args])
        err = capsys.readouterr().err
        assert status == 2, err
        assert err.startswith(f"mouthpiece {command}: error: ") and err.count("\n") == 1, err
        assert "take.mat" in err and MAT_DETAILS[kind] in err
    assert not (tmp_path / "take.npz").exists() and not (tmp_path / "o.mp4").exists()
