"""The neural renderer (PIRenderer): fixture parity, strict loading, windows, portraits, video, CLI."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from core.adapters.bfm_pose import rotvec_to_angles
from core.adapters.styletalk_npy import styletalk_coeffs_to_track
from core.audio import SAMPLE_RATE, write_wav
from core.errors import Cancelled, InputError, ModelFormatError, ModelMissingError, UnsupportedMediaError
from core.render.loader import apply_overrides, config_from_state_dict, load_renderer
from core.render.model import FaceGenerator, RendererConfig
from core.render.pipeline import CPU_BATCH, render_video, to_uint8
from core.render.portrait import load_portrait, to_model_input
from core.render.windows import coefficient_windows, track_coefficients
from core.track import Track

PORTRAIT = "KristiNoem.png"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The fixture's figures were made on one thread; one thread is also fastest on a shared CI box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small(reference_dir: Path) -> tuple[Path, Path]:
    return reference_dir / "pirender_small.pt", reference_dir / "pirender_small_config.json"


@pytest.fixture(scope="module")
def io_ref(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "pirender_small_io.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def small_net(small: tuple[Path, Path]) -> FaceGenerator:
    return load_renderer(*small)


@pytest.fixture(scope="module")
def small_state(small: tuple[Path, Path]) -> dict[str, torch.Tensor]:
    return torch.load(small[0], weights_only=True)["net_G_ema"]


def fixture_track(io_ref: dict[str, np.ndarray]) -> Track:
    """The fixture's (20,73) coefficient sequence as a bfm track at 30 fps (crop as channels)."""
    return styletalk_coeffs_to_track(io_ref["coeff_seq"], {"source": "fixture"})


# ---- parity with the official implementation -------------------------------------------------------
def test_render_parity_fake_image(small_net: FaceGenerator, io_ref: dict[str, np.ndarray]) -> None:
    src = torch.from_numpy(io_ref["source_image"])[None]
    with torch.inference_mode():
        out = small_net(src.expand(3, -1, -1, -1), torch.from_numpy(io_ref["coeff_windows"]))
    np.testing.assert_allclose(out["fake_image"].numpy(), io_ref["fake_image"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(out["warp_image"].numpy(), io_ref["warp_image"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(out["flow_field"].numpy(), io_ref["flow_field"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out["descriptor"].numpy(), io_ref["descriptor"], atol=1e-5, rtol=0)


def test_render_parity_shared_source(small_net: FaceGenerator, io_ref: dict[str, np.ndarray]) -> None:
    """One (1,3,H,W) source shared by a batch of windows gives the same frames as an expanded batch."""
    with torch.inference_mode():
        out = small_net(torch.from_numpy(io_ref["source_image"])[None], torch.from_numpy(io_ref["coeff_windows"]))
    np.testing.assert_allclose(out["fake_image"].numpy(), io_ref["fake_image"], atol=1e-3, rtol=0)


def test_dead_residual_branch_has_no_effect(small_net: FaceGenerator, io_ref: dict[str, np.ndarray]) -> None:
    """FineADAINResBlock2d's conv1/norm1 are overwritten upstream: scrambling them changes nothing."""
    net = FaceGenerator(small_net.cfg).eval()
    net.load_state_dict(small_net.state_dict())
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".conv1." in name or ".norm1." in name:
                p.add_(1.0)
        out = net(torch.from_numpy(io_ref["source_image"])[None], torch.from_numpy(io_ref["coeff_windows"]))
    np.testing.assert_allclose(out["fake_image"].numpy(), io_ref["fake_image"], atol=1e-3, rtol=0)


def test_uint8_conversion_truncates_like_the_demo() -> None:
    x = torch.tensor([-2.0, -1.0, 0.0, 0.999, 1.5]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert to_uint8(x)[0, 0, :, 0].tolist() == [0, 0, 127, 254, 255]


# ---- full-size layout ------------------------------------------------------------------------------
def test_full_manifest_keys_and_shapes(reference_dir: Path) -> None:
    manifest = json.loads((reference_dir / "pirender_full_manifest.json").read_text())
    with torch.device("meta"):
        net = FaceGenerator(RendererConfig())
    state = net.state_dict()
    assert len(state) == manifest["num_keys"] == 304
    assert {k: list(v.shape) for k, v in state.items()} == {k: v["shape"] for k, v in manifest["keys"].items()}
    assert config_from_state_dict(state) == RendererConfig()
    assert apply_overrides(RendererConfig(), manifest["config"]) == RendererConfig()


def test_small_config_inferred_from_weights(small_state: dict[str, torch.Tensor]) -> None:
    cfg = config_from_state_dict(small_state)
    assert (cfg.descriptor_nc, cfg.max_nc, cfg.warp_base_nc, cfg.edit_base_nc) == (32, 32, 8, 8)
    assert (cfg.warp_encoder_layers, cfg.warp_decoder_layers, cfg.edit_layers, cfg.edit_res_blocks) == (
        5,
        3,
        3,
        2,
    )
    assert cfg.image_size == 256  # the weights cannot tell; the config file does
    assert config_from_state_dict(small_state, {"image_size": [64, 64]}).image_size == 64


def test_config_file_must_agree_with_weights(small_state: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ModelFormatError, match=r"editing_net\.base_nc = 64, the weights have 8"):
        config_from_state_dict(small_state, {"editing_net": {"base_nc": 64}})
    with pytest.raises(InputError, match="layer must be a whole number, got 'three'"):
        config_from_state_dict(small_state, {"mapping_net": {"layer": "three"}})
    for size in (100, 32):
        with pytest.raises(InputError, match=f"multiple of 32 and at least 64, got {size}"):
            config_from_state_dict(small_state, {"image_size": size})


# ---- strict loader ---------------------------------------------------------------------------------
def _save(tmp_path: Path, state: dict, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save({"net_G_ema": state}, path)
    return path


def test_loader_names_missing_unexpected_and_misshapen_keys(
    tmp_path: Path, small_state: dict[str, torch.Tensor]
) -> None:
    state = dict(small_state)
    del state["warpping_net.flow_out.2.bias"]
    state["editing_net.decoder.extra.weight"] = torch.zeros(3)
    state["editing_net.decoder.final.model.0.bias"] = torch.zeros(4)
    with pytest.raises(ModelFormatError) as err:
        load_renderer(_save(tmp_path, state))
    msg = str(err.value)
    assert "missing (1): warpping_net.flow_out.2.bias" in msg
    assert "unexpected (1): editing_net.decoder.extra.weight" in msg
    assert "wrong shape (1): editing_net.decoder.final.model.0.bias (4,)≠(3,)" in msg


def test_loader_accepts_missing_dead_weights(
    tmp_path: Path, small_state: dict[str, torch.Tensor], io_ref: dict[str, np.ndarray]
) -> None:
    state = {k: v for k, v in small_state.items() if ".conv1." not in k and ".norm1." not in k}
    assert len(state) < len(small_state)
    net = load_renderer(_save(tmp_path, state), model_config=None)
    with torch.inference_mode():
        out = net(torch.from_numpy(io_ref["source_image"])[None], torch.from_numpy(io_ref["coeff_windows"]))
    np.testing.assert_allclose(out["fake_image"].numpy(), io_ref["fake_image"], atol=1e-3, rtol=0)


def test_training_checkpoint_extras_are_ignored(
    tmp_path: Path, small: tuple[Path, Path], small_state: dict[str, torch.Tensor], small_net: FaceGenerator
) -> None:
    """A training checkpoint: generator, EMA generator, discriminator, optimizer state, a config object."""
    from omegaconf import OmegaConf

    path = tmp_path / "renderer_checkpoint.pt"
    extras = {"net_G": small_state, "net_D": {"w": torch.zeros(3)}, "opt_G": {"state": {}, "param_groups": []}}
    torch.save({"net_G_ema": small_state, **extras, "cfg": OmegaConf.create({"gen": {"type": "x"}})}, path)
    net = load_renderer(path, small[1])
    for key, value in small_net.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def test_loader_bad_files(tmp_path: Path, small_state: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ModelMissingError, match=r"renderer weights missing: .* at .*absent\.pt"):
        load_renderer(tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFormatError, match="not a readable renderer checkpoint"):
        load_renderer(junk)
    other = tmp_path / "other.pt"
    torch.save({"model_state_dict": small_state}, other)
    with pytest.raises(ModelFormatError, match=r"no 'net_G_ema' entry \(top-level keys: model_state_dict\)"):
        load_renderer(other)
    with pytest.raises(ModelFormatError, match=r"key 'mapping_net\.first\.0\.weight' is missing"):
        load_renderer(_save(tmp_path, {"mapping_net.x": torch.zeros(1)}))


# ---- coefficient windows ---------------------------------------------------------------------------
def test_windows_match_the_fixture(io_ref: dict[str, np.ndarray]) -> None:
    win = coefficient_windows(io_ref["coeff_seq"], io_ref["window_frames"], radius=13)
    assert win.shape == (3, 73, 27)
    np.testing.assert_array_equal(win, io_ref["coeff_windows"])


def test_windows_clamp_at_both_ends() -> None:
    coeffs = np.arange(5, dtype=np.float32)[:, None] * np.ones((1, 73), dtype=np.float32)
    win = coefficient_windows(coeffs, [0, 2, 4], radius=3)
    assert win[0, 0].tolist() == [0, 0, 0, 0, 1, 2, 3]
    assert win[1, 0].tolist() == [0, 0, 1, 2, 3, 4, 4]
    assert win[2, 5].tolist() == [1, 2, 3, 4, 4, 4, 4]


def test_track_coefficients_round_trip(io_ref: dict[str, np.ndarray]) -> None:
    coeffs = track_coefficients(fixture_track(io_ref))
    np.testing.assert_allclose(coeffs, io_ref["coeff_seq"], atol=1e-5)


def test_track_coefficients_defaults_and_resampling() -> None:
    t = 26
    rot = np.tile([0.1, -0.2, 0.05], (t, 1)).astype(np.float32)
    track = Track(
        fps=25.0,
        rig="bfm",
        channels=[f"exp{i:02d}" for i in range(64)],
        values=np.ones((t, 64), np.float32),
        rotations={"head": rot},
    )
    coeffs = track_coefficients(track)
    assert coeffs.shape == (31, 73)  # 1 s at 25 fps → 1 s at 30 fps
    np.testing.assert_allclose(coeffs[:, 64:67], np.tile(rotvec_to_angles(rot[:1]), (31, 1)), atol=1e-5)
    assert (coeffs[:, 67:70] == 0).all()
    assert coeffs[:, 70:73].tolist() == [[1.0, 128.0, 128.0]] * 31


def test_only_bfm_tracks_drive_the_renderer() -> None:
    flame = Track(fps=25.0, rig="flame", channels=["exp000"], values=np.zeros((3, 1), np.float32))
    with pytest.raises(InputError, match=r"bfm.*'flame' rig"):
        track_coefficients(flame)
    empty = Track(fps=30.0, rig="bfm", channels=["exp00"], values=np.zeros((0, 1), np.float32))
    with pytest.raises(InputError, match="no frames"):
        track_coefficients(empty)


# ---- portraits -------------------------------------------------------------------------------------
def _png(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as c:
        stream = c.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = pixels.shape[1], pixels.shape[0], fmt
        c.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format=fmt)))
        c.mux(stream.encode(None))
    return buf.getvalue()


def test_portrait_crop_and_resize(samples_dir: Path) -> None:
    wide = np.zeros((300, 500, 3), np.uint8)
    wide[:, 100:400] = (200, 30, 10)  # the centred 300×300 square is uniformly coloured
    out = load_portrait(_png(wide, "rgb24"), size=64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - [200, 30, 10]).max() <= 2
    real = load_portrait(samples_dir / "source_video" / "image" / PORTRAIT)
    assert real.shape == (256, 256, 3)


def test_portrait_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :128, 3] = 255
    out = load_portrait(_png(rgba, "rgba"))
    assert out[10, 10].tolist() == [255, 0, 0] and out[10, 250].tolist() == [255, 255, 255]


def test_portrait_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="greyscale"):
        load_portrait(_png(np.full((256, 256), 90, np.uint8), "gray"))
    with pytest.raises(InputError, match=r"is 300×100; it needs at least 128 px"):
        load_portrait(_png(np.zeros((100, 300, 3), np.uint8), "rgb24"))
    with pytest.raises(UnsupportedMediaError, match="cannot read the image"):
        load_portrait(b"\x89PNG but not really")
    with pytest.raises(InputError, match="not found"):
        load_portrait(tmp_path / "missing.png")


# ---- pipeline and CLI ------------------------------------------------------------------------------
def _mp4_streams(path: Path) -> tuple[int, list[str], tuple[int, int], np.ndarray]:
    with av.open(str(path)) as c:
        kinds = [s.type for s in c.streams]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return len(frames), kinds, frames[0].shape[:2], frames[0]


@pytest.fixture
def inputs(tmp_path: Path, io_ref: dict[str, np.ndarray], samples_dir: Path) -> dict[str, Path]:
    track_path = tmp_path / "take.npz"
    fixture_track(io_ref).save(track_path)
    audio_path = tmp_path / "speech.wav"
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    write_wav(audio_path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    return {
        "track": track_path,
        "audio": audio_path,
        "image": samples_dir / "source_video" / "image" / PORTRAIT,
    }


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    from cli import main as cli
    from cli.commands import render_video as command

    monkeypatch.setitem(cli.COMMANDS, "render-video", ("cli.commands.render_video", command.HELP))
    return cli.main(["render-video", *argv])


def test_render_video_cli_end_to_end(
    tmp_path: Path,
    inputs: dict[str, Path],
    small: tuple[Path, Path],
    small_net: FaceGenerator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "talk.mp4"
    argv = ["--track", str(inputs["track"]), "--image", str(inputs["image"]), "--audio", str(inputs["audio"])]
    argv += ["-o", str(out), "--checkpoint", str(small[0]), "--model-config", str(small[1]), "--batch", "8"]
    assert _cli(argv, monkeypatch) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 20 frames at 30 fps (0.67 s), cpu, batch 8" in printed
    count, kinds, size, first = _mp4_streams(out)
    assert count == 20 and size == (64, 64)
    assert sorted(kinds) == ["audio", "video"]
    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert 0.66 <= samples / SAMPLE_RATE < 0.74  # the 0.8 s of speech is cut at the video's 0.67 s end
    assert not list(tmp_path.glob(".*partial*"))
    # the first frame is the network's frame 0, up to H.264 / 4:2:0 chroma loss
    src = torch.from_numpy(to_model_input(load_portrait(inputs["image"], 64)))
    coeffs = track_coefficients(Track.load(inputs["track"]))
    with torch.inference_mode():
        expected = to_uint8(small_net(src, torch.from_numpy(coefficient_windows(coeffs, [0], 13)))["fake_image"])[0]
    luma = np.array([0.299, 0.587, 0.114])
    assert np.abs(first @ luma - expected @ luma).mean() < 4
    assert np.abs(first.mean((0, 1)) - expected.mean((0, 1))).max() < 3  # colour order and range kept


def test_render_video_cli_errors(
    tmp_path: Path,
    inputs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "models"))
    base = ["--image", str(inputs["image"]), "--audio", str(inputs["audio"]), "-o", str(tmp_path / "o.mp4")]
    assert _cli(["--track", str(inputs["track"]), *base], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "renderer_checkpoint.pt" in err and str(tmp_path / "models" / "styletalk") in err
    flame = tmp_path / "flame.npz"
    Track(fps=25.0, rig="flame", channels=["exp000"], values=np.zeros((5, 1), np.float32)).save(flame)
    assert _cli(["--track", str(flame), *base], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "bfm" in err and "'flame' rig" in err
    assert not (tmp_path / "o.mp4").exists()


def test_render_video_cancel_leaves_no_file(tmp_path: Path, inputs: dict[str, Path], small_net: FaceGenerator) -> None:
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float, _message: str) -> None:
        seen.append(fraction)
        if fraction > 0:
            cancel.set()

    out = tmp_path / "c.mp4"
    with pytest.raises(Cancelled):
        render_video(
            inputs["track"],
            inputs["image"],
            None,
            out,
            batch=4,
            progress=progress,
            cancel=cancel,
            net=small_net,
        )
    assert not out.exists() and not list(tmp_path.glob("*.mp4"))
    assert seen[-1] == pytest.approx(4 / 20 * 0.99)


def test_render_video_silent_from_styletalk_npy(
    tmp_path: Path, inputs: dict[str, Path], io_ref: dict[str, np.ndarray], small_net: FaceGenerator
) -> None:
    np.save(tmp_path / "styletalk.npy", io_ref["coeff_seq"])
    portrait = load_portrait(inputs["image"])  # an (H, W, 3) array is accepted as well as a file
    result = render_video(tmp_path / "styletalk.npy", portrait, None, tmp_path / "s.mp4", net=small_net)
    count, kinds, _, _ = _mp4_streams(result.path)
    assert (result.frames, result.batch, count, kinds) == (20, CPU_BATCH, 20, ["video"])


def test_bench_render_reports_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.render import main

    out = tmp_path / "bench.json"
    assert main(["--size", "64", "--cpu-batches", "2", "--cpu-frames", "2", "--no-gpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["cpu"]
    assert (report["size"], row["batch"], row["frames"]) == (64, 2, 2)
    assert row["fps"] > 0 and row["frames_per_cpu_second"] > 0 and row["peak_mib"] > 100
    assert "frames/s" in capsys.readouterr().out
