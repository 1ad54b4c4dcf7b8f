"""SadTalker ExpNet + PoseVAE: key layout, strict loading, parity with the official modules, smoothing.

``data/sadtalker_official_io.npz`` holds what the unmodified official ``SimpleWrapperV2`` (run in 10-frame
chunks as ``Audio2Exp.test``) and ``Audio2Pose.test`` (style 7, ``torch.manual_seed(3)``) returned for
full-size weights drawn by ``sadtalker_layout.random_tensors`` (seeds 0 and 1) and the inputs below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from scipy.signal import savgol_filter

from core.engines.sadtalker.engine import predict_expression
from core.engines.sadtalker.expnet import ExpNet, ExpNetDims
from core.engines.sadtalker.loader import load_expnet, load_posevae, training_only_layout
from core.engines.sadtalker.posevae import PoseVAEDims, PoseVAENet, predict_pose, smooth_pose
from core.errors import InputError, ModelFormatError, ModelMissingError
from tests.core.sadtalker_layout import SMALL, Sizes, audio2exp_layout, audio2pose_layout, write_weights

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    return write_weights(tmp_path_factory.mktemp("sadtalker") / "SadTalker_V0.0.2_256.safetensors")


@pytest.fixture(scope="module")
def official_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    t = 40
    return {
        "mels": rng.uniform(-4, 4, (t, 80, 16)).astype(np.float32),
        "ref_exp": (rng.standard_normal(64) * 0.3).astype(np.float32),
        "ratio": rng.uniform(0, 1, t).astype(np.float32),
        "ref_pose": (rng.standard_normal(6) * 0.1).astype(np.float32),
    }


def _shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_sadtalker_full_size_layout_matches_the_official_modules():
    with torch.device("meta"):
        expnet, posevae = ExpNet(), PoseVAENet()
    assert _shapes(expnet) == audio2exp_layout()
    assert _shapes(posevae) | training_only_layout(PoseVAEDims()) == audio2pose_layout()
    assert len(audio2exp_layout()) == 93 and len(audio2pose_layout()) == 419


def test_sadtalker_loading_reads_sizes_and_tensors(small_file):
    expnet, posevae = load_expnet(small_file), load_posevae(small_file)
    assert expnet.dims == ExpNetDims(encoder_widths=SMALL.widths)
    assert posevae.dims == PoseVAEDims(
        encoder_widths=SMALL.widths,
        latent=SMALL.latent,
        decoder_hidden=(SMALL.dec_hidden,),
        unet_filters=SMALL.unet,
        encoder_hidden=(SMALL.enc_hidden,),
        discriminator_widths=SMALL.disc,
    )
    stored = load_file(str(small_file))
    for key, value in posevae.state_dict().items():
        assert torch.equal(value, stored[f"audio2pose.{key}"]), key
    for key, value in expnet.state_dict().items():
        assert torch.equal(value, stored[f"audio2exp.{key}"]), key
    assert not expnet.training and not any(p.requires_grad for p in posevae.parameters())


@pytest.fixture(scope="module")
def full_file(tmp_path_factory) -> Path:
    return write_weights(tmp_path_factory.mktemp("full") / "SadTalker_V0.0.2_256.safetensors", Sizes(), seed=0)


def test_sadtalker_expnet_matches_the_official_module(full_file, official_inputs):
    expected = np.load(DATA / "sadtalker_official_io.npz")
    net = load_expnet(full_file)
    x = official_inputs
    exp = predict_expression(net, x["mels"], x["ref_exp"], x["ratio"])
    assert exp.shape == (40, 64)
    np.testing.assert_allclose(exp, expected["exp"], atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize(("frames", "key"), [(40, "pose"), (20, "pose_short")])
@pytest.mark.slow
def test_sadtalker_posevae_matches_the_official_module(full_file, official_inputs, frames, key):
    """40 frames: one whole window + a tail re-using the last 32; 20: shorter than one window (padded)."""
    expected = np.load(DATA / "sadtalker_official_io.npz")
    net = load_posevae(full_file)
    x = official_inputs
    with torch.inference_mode():
        raw = net(torch.from_numpy(x["mels"][:frames])[:, None], torch.from_numpy(x["ref_pose"]), 7,
                  torch.Generator().manual_seed(3))  # fmt: skip
    assert raw.shape == (frames, 6)
    np.testing.assert_allclose(raw[0].numpy(), x["ref_pose"], atol=0)  # frame 0 is the reference pose
    np.testing.assert_allclose(raw.numpy(), expected[key], atol=2e-5)
    smooth = predict_pose(net, x["mels"][:frames], 7, 3, x["ref_pose"])
    np.testing.assert_allclose(smooth, expected[f"{key}_smooth"], atol=2e-5)


def test_sadtalker_posevae_seed_and_style_change_the_motion(small_file):
    net = load_posevae(small_file)
    mels = np.random.default_rng(2).uniform(-4, 4, (70, 80, 16)).astype(np.float32)
    a, again = predict_pose(net, mels, 3, 11), predict_pose(net, mels, 3, 11)
    np.testing.assert_array_equal(a, again)
    assert np.abs(a - predict_pose(net, mels, 3, 12)).max() > 1e-4
    assert np.abs(a - predict_pose(net, mels, 45, 11)).max() > 1e-4
    assert net.windows(69) == [(0, 32, 32), (32, 64, 32), (37, 69, 5)]
    assert net.windows(20) == [(0, 20, 20)]


def test_sadtalker_smoothing_is_savitzky_golay_13_2():
    rng = np.random.default_rng(3)
    pose = rng.standard_normal((50, 6))
    np.testing.assert_allclose(smooth_pose(pose), savgol_filter(pose, 13, 2, axis=0), atol=1e-6)
    t = np.arange(50, dtype=np.float64)[:, None]
    quadratic = np.hstack([0.01 * t**2 - t + 3] * 6)
    np.testing.assert_allclose(smooth_pose(quadratic), quadratic, rtol=1e-5, atol=1e-4)  # order 2 kept exactly
    assert np.abs(np.diff(smooth_pose(pose), axis=0)).mean() < np.abs(np.diff(pose, axis=0)).mean() / 2
    short = rng.standard_normal((8, 6))
    np.testing.assert_allclose(smooth_pose(short), savgol_filter(short, 7, 2, axis=0), atol=1e-6)
    with pytest.raises(InputError, match="too short"):
        smooth_pose(rng.standard_normal((2, 6)))


def test_sadtalker_missing_file_says_where_weights_go(tmp_path):
    with pytest.raises(ModelMissingError, match=r"SadTalker_V0\.0\.2_256\.safetensors.*sadtalker"):
        load_expnet(tmp_path / "sadtalker" / "SadTalker_V0.0.2_256.safetensors")


def test_sadtalker_wrong_prefixes_and_bad_files(small_file, tmp_path):
    stored = load_file(str(small_file))
    renamed = tmp_path / "renamed.safetensors"
    save_file({k.replace("audio2exp.", "netG."): v for k, v in stored.items()}, str(renamed))
    with pytest.raises(ModelFormatError, match=r"no 'audio2exp\.' tensors"):
        load_expnet(renamed)
    load_posevae(renamed)  # the other block is untouched
    wrapped = tmp_path / "wrapped.safetensors"
    save_file({k.replace("audio2pose.", "audio2pose.module."): v for k, v in stored.items()}, str(wrapped))
    with pytest.raises(
        ModelFormatError,
        match=r"wrapped\.safetensors \[audio2pose\.\*\] does not match SadTalker's layout \(missing \(1\): ",
    ):
        load_posevae(wrapped)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelFormatError, match=r"cannot read junk\.safetensors"):
        load_expnet(junk)


def test_sadtalker_strict_loading_names_keys(small_file, tmp_path):
    stored = load_file(str(small_file))
    cases = {
        r"missing \(1\): netG.decoder.pose_linear.bias": lambda d: d.pop("audio2pose.netG.decoder.pose_linear.bias"),
        r"unexpected \(1\): netG.decoder.extra": lambda d: d.update({"audio2pose.netG.decoder.extra": torch.zeros(1)}),
        r"wrong shape \(1\): netG.decoder.pose_linear.weight \(6, 5\)": lambda d: d.update(
            {"audio2pose.netG.decoder.pose_linear.weight": torch.zeros(6, 5)}
        ),
        r"missing \(1\): netD_motion.seq.3.bias": lambda d: d.pop("audio2pose.netD_motion.seq.3.bias"),
    }
    for message, edit in cases.items():
        state = dict(stored)
        edit(state)
        path = tmp_path / "edited.safetensors"
        save_file(state, str(path))
        with pytest.raises(ModelFormatError, match=message):
            load_posevae(path)
    state = {k: v for k, v in stored.items() if not k.endswith("num_batches_tracked")}
    save_file(state, str(tmp_path / "no_counters.safetensors"))
    load_posevae(tmp_path / "no_counters.safetensors")  # as torch's loader, the counters are optional


@pytest.mark.parametrize("style", [46, -1, "seven", True, 3.5])
def test_sadtalker_pose_style_outside_range(small_file, style):
    net = load_posevae(small_file)
    with pytest.raises(InputError, match=r"pose style must be an integer in 0\.\.45"):
        predict_pose(net, np.zeros((10, 80, 16), dtype=np.float32), style, 0)


def test_sadtalker_clips_shorter_than_a_window_and_too_short(small_file):
    net = load_posevae(small_file)
    assert predict_pose(net, np.zeros((3, 80, 16), dtype=np.float32), "5", 0).shape == (3, 6)
    with pytest.raises(InputError, match=r"too short.*0\.12 s"):
        predict_pose(net, np.zeros((2, 80, 16), dtype=np.float32), 5, 0)
