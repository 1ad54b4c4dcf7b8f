"""Memory bombs: tiny files that declare huge data are refused from their headers, by a real
`mouthpiece serve` and by the real CLI, with the peak RSS of the process (tree) well under 100 MB
over what it used before."""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import soundfile as sf

from tests.support.hostile import (
    ServerProcess,
    cli_peak_mb,
    flac_of_silence,
    npz_track_declaring,
    peak_growth_mb,
    pickle_declaring,
    server_process,
    wav_declaring_rate,
)

LIMIT_MB = 100
PNG = b"\x89PNG\r\n\x1a\n"  # never read: the track is refused first


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a renderer checkpoint file present, so that /v1/renders reads the track it is sent."""
    root = tmp_path_factory.mktemp("hostile")
    checkpoint = root / "renderer_checkpoint.pt"
    checkpoint.write_bytes(b"only its presence is checked before the track is read")
    extra = ("--max-audio-seconds", "45", "--renderer-checkpoint", str(checkpoint))
    with server_process(root / "data", *extra) as running, running.client() as client:
        # the first of each request imports what it needs; measure from there
        wav = io.BytesIO()
        sf.write(wav, np.zeros(16000, np.float32), 16000, format="WAV")
        assert client.post("/v1/jobs", files={"audio": ("ok.wav", wav.getvalue())}).status_code == 202
        small = npz_track_declaring(30, rig="arkit")
        assert client.post("/v1/renders", files={"image": ("p.png", PNG), "track": ("t.npz", small)}).status_code == 400
        yield running


def _refused_within_limit(server: ServerProcess, path: str, files: dict, detail: str) -> None:
    with server.client() as client, peak_growth_mb(server.proc.pid) as growth:
        response = client.post(path, files=files)
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert growth[0] < LIMIT_MB, f"peak RSS rose {growth[0]:.0f} MB"
    with server.client() as client:
        assert client.get("/v1/health").json()["status"] == "ok"


@pytest.mark.parametrize("rate", [1, 8, 1_000_000])
def test_wav_declaring_an_absurd_rate_is_refused_from_its_header(hostile_server: ServerProcess, rate: int) -> None:
    audio = wav_declaring_rate(rate)
    detail = f"its header declares a sample rate of {rate} Hz; only 4-384 kHz audio is read"
    _refused_within_limit(hostile_server, "/v1/jobs", {"audio": ("bomb.wav", audio)}, detail)


def test_an_hour_of_flac_silence_is_refused_before_decoding(hostile_server: ServerProcess) -> None:
    audio = flac_of_silence(3600)
    assert len(audio) < 1_000_000
    detail = "bomb.flac is 3600.0 s long; the limit is 45 s"
    _refused_within_limit(hostile_server, "/v1/jobs", {"audio": ("bomb.flac", audio)}, detail)


@pytest.mark.slow
def test_a_track_declaring_a_gigabyte_is_refused_before_inflating(hostile_server: ServerProcess) -> None:
    track = npz_track_declaring(4_000_000)
    assert len(track) < 2_000_000
    files = {"image": ("p.png", PNG), "track": ("bomb.npz", track)}
    _refused_within_limit(hostile_server, "/v1/renders", files, "declares a 4000000×73 array")


# ---- the CLI ---------------------------------------------------------------------------------
def _render_video(track: Path, tmp: Path) -> tuple[int, str, float]:
    out = ("--image", str(tmp / "p.png"), "--audio", str(tmp / "a.wav"), "-o", str(tmp / "o.mp4"), "-q")
    return cli_peak_mb("render-video", "--track", str(track), *out)


def _emote(frames: int, build: bool) -> bytes:
    shapes = {"expression": (frames, 50), "jaw_pose": (frames, 3), "global_pose": (frames, 3)}
    if build:
        return pickle.dumps({k: np.zeros(s, np.float32) for k, s in shapes.items()}, protocol=2)
    return pickle_declaring(shapes)


def _mat(frames: int) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"coeff_3dmm": np.zeros((frames, 70))}, do_compression=True)
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "small", "bomb", "detail"),
    [
        ("take.pkl", lambda: _emote(10, True), lambda: _emote(15_000_000, False), "declares a 15000000×50 array"),
        (
            "take.npz",
            lambda: npz_track_declaring(10, 52, "arkit"),
            lambda: npz_track_declaring(3_000_000, 52, "arkit"),
            "declares a 3000000×52 array",
        ),
        ("take.mat", lambda: _mat(10), lambda: _mat(3_000_000), "declares a 3000000×70 array"),
    ],
)
def test_cli_refuses_track_files_that_declare_huge_arrays(tmp_path: Path, name: str, small, bomb, detail: str) -> None:
    path = tmp_path / name
    path.write_bytes(small())
    _, err, baseline = _render_video(path, tmp_path)
    assert "Traceback" not in err
    path.write_bytes(bomb())
    assert path.stat().st_size < 2_000_000
    status, err, peak = _render_video(path, tmp_path)
    assert status == 2, err
    assert detail in err and err.count("\n") == 1, err
    assert peak - baseline < LIMIT_MB, f"peak {peak:.0f} MB against {baseline:.0f} MB for a small file"


def test_import_flame_refuses_a_pickle_declaring_a_terabyte(tmp_path: Path) -> None:
    bomb = tmp_path / "generic_model.pkl"
    bomb.write_bytes(pickle_declaring({"v_template": (10**6, 10**6)}))
    assert bomb.stat().st_size < 200
    status, err, peak = cli_peak_mb("import-flame", str(bomb), "-o", str(tmp_path / "flame.npz"))
    assert status == 2
    assert "generic_model.pkl: pickled array: declares a 1000000×1000000 array" in err and err.count("\n") == 1
    assert peak < LIMIT_MB  # the command itself, numpy and scipy included, stays small
    assert not (tmp_path / "flame.npz").exists()


class _Transpose:
    """Pickles as chumpy's ``reordering.transpose`` of ``a`` (a stand-in the FLAME reader evaluates)."""

    def __init__(self, a: object) -> None:
        self.a = a

    def __reduce__(self) -> tuple:
        return _Transpose, (None,), {"a": self.a}


def test_import_flame_refuses_a_deep_chumpy_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    chumpy = types.ModuleType("chumpy.reordering")
    chumpy.transpose = _Transpose  # type: ignore[attr-defined]
    _Transpose.__module__, _Transpose.__qualname__ = "chumpy.reordering", "transpose"
    chain: object = np.zeros((3, 3))
    for _ in range(5000):
        chain = _Transpose(chain)
    limit = sys.getrecursionlimit()
    sys.modules["chumpy"], sys.modules["chumpy.reordering"] = types.ModuleType("chumpy"), chumpy
    try:
        sys.setrecursionlimit(50_000)
        data = pickle.dumps({"v_template": chain}, protocol=2)
    finally:
        sys.setrecursionlimit(limit)
        del sys.modules["chumpy.reordering"], sys.modules["chumpy"]
        _Transpose.__module__, _Transpose.__qualname__ = __name__, "_Transpose"
    bomb = tmp_path / "generic_model.pkl"
    bomb.write_bytes(data)
    assert main(["import-flame", str(bomb), "-o", str(tmp_path / "flame.npz")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mouthpiece import-flame: error: generic_model.pkl: not a FLAME model "
        "(its chumpy objects are nested too deeply)\n"
    )
    assert not (tmp_path / "flame.npz").exists()


class _Zeros:
    """Pickles as ``bytes(n)``: n zero bytes made by the loader."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self) -> tuple:
        return bytes, (self.n,)


def test_an_emote_pickle_asking_for_a_terabyte_of_bytes_is_refused(tmp_path: Path) -> None:
    from core.adapters import import_track
    from core.errors import InputError

    bomb = tmp_path / "take.pkl"
    bomb.write_bytes(pickle.dumps({"expression": _Zeros(10**12)}, protocol=2))
    assert bomb.stat().st_size < 100
    with pytest.raises(InputError, match=r"take\.pkl: pickled bytes: declares a 1000000000000 array"):
        import_track(bomb)
