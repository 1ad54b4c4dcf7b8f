"""StyleTalk: parity with the reference fixture, strict loading, lean forward, the engine."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from core.engines import get_engine
from core.engines.base import EngineOptions
from core.engines.styletalk.config import StyleTalkConfig, config_from_state_dict
from core.engines.styletalk.loader import load_styletalk
from core.engines.styletalk.model import StyleTalkNet, phoneme_windows
from core.engines.styletalk.style_clip import find_style, pad_style_clip, read_style_clip
from core.errors import InputError, ModelFormatError, ModelMissingError


@pytest.fixture(scope="module")
def small(reference_dir: Path) -> tuple[StyleTalkNet, dict]:
    overrides = json.loads((reference_dir / "styletalk_small_config.json").read_text())
    net, notes = load_styletalk(reference_dir / "styletalk_small.pth", overrides)
    assert notes == []
    io = dict(np.load(reference_dir / "styletalk_small_io.npz"))
    return net, io


def test_styletalk_config_is_read_from_the_weights(small):
    net, _ = small
    cfg = net.cfg
    assert (cfg.d_model, cfg.nhead, cfg.dim_feedforward, cfg.ph_embed_dim) == (32, 2, 64, 16)
    assert (cfg.content_layers, cfg.style_layers, cfg.decoder_layers) == (2, 2, 2)
    assert (cfg.window, cfg.style_max_len, cfg.dynamic_k, cfg.dynamic_ratio) == (11, 64, 8, 4)


def test_styletalk_phoneme_windows_match_reference(small):
    _, io = small
    assert np.array_equal(phoneme_windows(io["phoneme_seq"], 5), io["phoneme_windows"])


def test_styletalk_parity_with_reference(small):
    net, io = small
    windows = torch.from_numpy(io["phoneme_windows"])
    clip = torch.from_numpy(io["style_clip_padded"])[None]
    mask = torch.from_numpy(io["style_pad_mask"])[None]
    with torch.inference_mode():
        content = net.content_encoder(windows).transpose(0, 1).numpy()
        style = net.style_encoder(clip, mask)[0].numpy()
    np.testing.assert_allclose(content, io["content"], atol=1e-5)
    np.testing.assert_allclose(style, io["style_code"], atol=1e-5)
    exp = net(windows[None], clip, mask)[0].numpy()
    np.testing.assert_allclose(exp, io["exp_out"], atol=1e-5)
    exp_nomask = net(windows[None], torch.from_numpy(io["style_clip"])[None], None)[0].numpy()
    np.testing.assert_allclose(exp_nomask, io["exp_out_nomask"], atol=1e-5)


@pytest.mark.slow
def test_styletalk_chunks_and_batches_do_not_change_the_result(small):
    net, io = small
    windows = torch.from_numpy(io["phoneme_windows"])[None]
    clip = torch.from_numpy(io["style_clip_padded"])[None]
    mask = torch.from_numpy(io["style_pad_mask"])[None]
    whole = net(windows, clip, mask, chunk=1000)
    chunked = net(windows, clip, mask, chunk=7)
    assert torch.allclose(whole, chunked, atol=1e-6)
    other_clip = torch.roll(clip, 3, dims=1)
    batch = net(windows.expand(2, -1, -1), torch.cat([clip, other_clip]), torch.cat([mask, mask]), chunk=16)
    assert torch.allclose(batch[0], whole[0], atol=1e-6)
    assert not torch.allclose(batch[1], whole[0], atol=1e-3)  # the style matters


def test_styletalk_full_size_matches_official_manifest(reference_dir):
    manifest = json.loads((reference_dir / "styletalk_full_manifest.json").read_text())["keys"]
    with torch.device("meta"):
        net = StyleTalkNet(StyleTalkConfig())
    ours = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert ours == {k: v["shape"] for k, v in manifest.items()}
    state = {k: torch.empty(v["shape"], device="meta") for k, v in manifest.items()}
    assert config_from_state_dict(state) == StyleTalkConfig()


def test_styletalk_loader_names_missing_and_unexpected_keys(reference_dir, tmp_path):
    state = torch.load(reference_dir / "styletalk_small.pth", weights_only=True)["model_state_dict"]
    state.pop("decoder.lower_decoder.norm.bias")
    state["decoder.extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pth"
    torch.save({"model_state_dict": state}, bad)
    with pytest.raises(
        ModelFormatError, match=r"missing \(1\): decoder\.lower_decoder\.norm\.bias.*unexpected \(1\): decoder\.extra"
    ):
        load_styletalk(bad, {"CONTENT_ENCODER": {"nhead": 2}})
    torch.save({"state_dict": state}, bad)
    with pytest.raises(ModelFormatError, match="no 'model_state_dict'"):
        load_styletalk(bad)
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFormatError, match="not a readable StyleTalk checkpoint"):
        load_styletalk(bad)


def test_styletalk_release_extras_are_ignored_and_noted(reference_dir, tmp_path, small):
    """Keys outside the three sub-networks (as the official loader) and a pickled yacs config."""
    from yacs.config import CfgNode

    net, _ = small
    state = torch.load(reference_dir / "styletalk_small.pth", weights_only=True)["model_state_dict"]
    state["disc.conv.weight"] = torch.zeros(2, 2)
    cfg = CfgNode({"INFERENCE": CfgNode({"CHECKPOINT": "checkpoints/styletalk_checkpoint.pth"})})
    path = tmp_path / "styletalk_checkpoint.pth"
    torch.save({"model_state_dict": state, "config": cfg, "epoch": 300}, path)
    overrides = json.loads((reference_dir / "styletalk_small_config.json").read_text())
    loaded, notes = load_styletalk(path, overrides)
    assert notes == ["styletalk_checkpoint.pth: ignored tensors outside the StyleTalk network (1): disc.conv.weight"]
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_styletalk_style_clips(samples_dir, tmp_path):
    exp = read_style_clip(samples_dir / "style_clips/3DMM/happyenglish_clip1.mat")
    coeff = scipy.io.loadmat(samples_dir / "style_clips/3DMM/happyenglish_clip1.mat")["coeff"]
    assert exp.shape == (135, 64)
    np.testing.assert_array_equal(exp, coeff[:, 80:144])
    padded, mask = pad_style_clip(exp, 256)
    assert padded.shape == (256, 64) and mask.sum() == 256 - 135 and not mask[:135].any()
    cropped, mask = pad_style_clip(exp, 64)
    np.testing.assert_array_equal(cropped, exp[:64])
    assert not mask.any()
    np.save(tmp_path / "calm.npy", exp)
    assert find_style("calm", tmp_path) == tmp_path / "calm.npy"
    for bad in ("../../etc/passwd", "..", "a/b"):
        with pytest.raises(InputError, match="invalid style name"):
            find_style(bad, tmp_path)
    with pytest.raises(InputError, match=r"unknown style 'angry'.*Available: calm"):
        find_style("angry", tmp_path)
    (tmp_path / "wrong.npy").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"not a readable \.npy"):
        read_style_clip(tmp_path / "wrong.npy")


@pytest.mark.parametrize(
    ("array", "detail"),
    [
        (np.ones((10, 64), np.complex64), "holds complex64 values; save the coefficients as real numbers"),
        (np.array([["a"] * 64] * 3), "holds <U1 values"),
    ],
)
def test_npy_style_clips_of_other_than_real_numbers_are_refused(tmp_path: Path, array: np.ndarray, detail: str):
    np.save(tmp_path / "clip.npy", array)
    with pytest.raises(InputError, match=re.escape(detail)):
        read_style_clip(tmp_path / "clip.npy")


def test_an_npy_style_clip_declaring_a_huge_array_is_refused_from_its_header(tmp_path: Path):
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**9, 64)}
    with (tmp_path / "bomb.npy").open("wb") as fp:
        np.lib.format.write_array_header_1_0(fp, header)
        fp.write(b"\0" * 256)
    with pytest.raises(InputError, match="arrays over"):
        read_style_clip(tmp_path / "bomb.npy")


def test_styletalk_engine_reproduces_fixture_from_phonemes(reference_dir, tmp_path):
    engine = get_engine(
        "styletalk",
        checkpoint=str(reference_dir / "styletalk_small.pth"),
        model_config=str(reference_dir / "styletalk_small_config.json"),
    )
    assert engine.status()[0]
    io = np.load(reference_dir / "styletalk_small_io.npz")
    np.save(tmp_path / "clip.npy", io["style_clip"])
    options = EngineOptions(style=str(tmp_path / "clip.npy"), extra={"phonemes": io["phoneme_seq"].tolist()})
    seen: list[float] = []
    track = engine.run(None, options, progress=lambda f, _m: seen.append(f))
    assert track.rig == "bfm" and track.fps == 30.0
    assert track.channels == [f"exp{i:02d}" for i in range(64)]
    np.testing.assert_allclose(track.values, io["exp_out"], atol=1e-5)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_styletalk_engine_errors(reference_dir, tmp_path):
    missing = get_engine("styletalk", model_dir=str(tmp_path))
    ready, message = missing.status()
    assert not ready and "styletalk_checkpoint.pth" in message
    with pytest.raises(ModelMissingError):
        missing.run(None, EngineOptions(style=str(reference_dir / "x.npy"), extra={"phonemes": [31]}))
    engine = get_engine(
        "styletalk",
        checkpoint=str(reference_dir / "styletalk_small.pth"),
        model_config=str(reference_dir / "styletalk_small_config.json"),
    )
    with pytest.raises(InputError, match="needs a style clip"):
        engine.run(None, EngineOptions(extra={"phonemes": [31]}))
    shutil.copy(reference_dir / "styletalk_small_config.json", tmp_path / "c.json")
    np.save(tmp_path / "s.npy", np.zeros((10, 64), np.float32))
    with pytest.raises(InputError, match=r"0\.\.40"):
        engine.run(None, EngineOptions(style=str(tmp_path / "s.npy"), extra={"phonemes": [31, 41]}))


def test_styletalk_engine_takes_phonemes_from_audio(reference_dir, samples_dir):
    from core.audio import load_audio

    engine = get_engine(
        "styletalk",
        checkpoint=str(reference_dir / "styletalk_small.pth"),
        model_config=str(reference_dir / "styletalk_small_config.json"),
    )
    audio = load_audio(samples_dir / "source_video/wav/feifeili_clip3.wav")
    style = samples_dir / "style_clips/3DMM/happyenglish_clip1.mat"
    track = engine.run(audio, EngineOptions(style=str(style)))
    labels = json.loads((samples_dir / "source_video/phoneme/feifeili_clip3_seq.json").read_text())
    assert track.values.shape == (len(labels), 64)
    assert track.meta["phonemes"] == "pocketsphinx" and track.meta["style"] == "happyenglish_clip1"
    assert np.isfinite(track.values).all() and track.values.std(axis=0).max() > 0


def test_styletalk_fixture_comes_back_from_the_animate_command(reference_dir, tmp_path, capsys):
    from cli.main import main
    from core.track import Track

    io = np.load(reference_dir / "styletalk_small_io.npz")
    (tmp_path / "seq.json").write_text(json.dumps(io["phoneme_seq"].tolist()))
    np.save(tmp_path / "style.npy", io["style_clip"])
    out = tmp_path / "take.npz"
    args = ["animate", "--engine", "styletalk", "--checkpoint", str(reference_dir / "styletalk_small.pth")]
    args += ["--model-config", str(reference_dir / "styletalk_small_config.json"), "--device", "cpu", "-q"]
    args += ["--phonemes", str(tmp_path / "seq.json"), "--style", str(tmp_path / "style.npy"), "-o", str(out)]
    assert main(args) == 0
    track = Track.load(out)
    assert track.rig == "bfm" and track.fps == 30 and track.channels == [f"exp{i:02d}" for i in range(64)]
    np.testing.assert_allclose(track.values, io["exp_out"], atol=1e-5)
    assert main([*args[:-4], "--style", str(tmp_path / "missing.npy"), "-o", str(out)]) == 2
    assert "style clip not found" in capsys.readouterr().err
