"""EMOTE: official release layout, fixture parity, engine output, bad inputs, any length."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from core.engines import get_engine  # noqa: E402
from core.engines.base import EngineOptions  # noqa: E402
from core.engines.emote import EmoteEngine  # noqa: E402
from core.engines.emote.config import EmoteConfig, emote_config, identity_names, read_yaml  # noqa: E402
from core.engines.emote.inputs import (  # noqa: E402
    condition_matrix,
    emotion_track,
    emotion_vector,
    intensity_vector,
    prepare_audio,
    resolve_identity,
)
from core.engines.emote.network import EmoteNetwork  # noqa: E402
from core.engines.emote.release import load_release, load_weights, rename_for  # noqa: E402
from core.engines.emote.windows import (  # noqa: E402
    UPSTREAM_TABLE_FRAMES,
    fade_weights,
    pass_bytes,
    plan_windows,
    run_windows,
    single_pass_frames,
)
from core.errors import Cancelled, InputError, ModelFormatError, ModelMissingError  # noqa: E402
from core.pipeline import AnimateRequest, animate  # noqa: E402
from core.testing.signals import speech_like  # noqa: E402

ATOL = 1e-4
SEAM_TOL = 0.05  # windowed vs single pass in the cross-fade region (fixture output range ≈ ±2.2)
PRIOR = "sequence_decoder.motion_prior."


def _release(folder: Path, reference: Path, sd: dict | None = None, cfg: dict | None = None) -> Path:
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    if cfg is None:
        shutil.copy(reference / "emote_small_cfg.yaml", folder / "cfg.yaml")
    else:
        (folder / "cfg.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    if sd is None:
        shutil.copy(reference / "emote_small.ckpt", folder / "checkpoints" / "last.ckpt")
    else:
        torch.save({"state_dict": sd}, folder / "checkpoints" / "last.ckpt")
    return folder


def _state_dict(reference: Path) -> dict:
    return dict(torch.load(reference / "emote_small.ckpt", weights_only=True)["state_dict"])


@pytest.fixture(scope="module")
def io(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "emote_small_io.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    return _release(tmp_path_factory.mktemp("EMOTE_v2"), reference_dir)


@pytest.fixture(scope="module")
def engine(release_dir: Path) -> EmoteEngine:
    eng = get_engine("emote", model_dir=release_dir, device="cpu")
    assert isinstance(eng, EmoteEngine)
    return eng


def _fixture_options() -> EngineOptions:
    return EngineOptions(emotion="surprised", intensity=1.0, extra={"identity": 1})


# ---- parity with the reference ------------------------------------------------------------------
def test_audio_preparation_matches_upstream_loader(io: dict) -> None:
    values = prepare_audio(io["wav_float32"])
    assert np.array_equal(values, io["input_values"])
    pcm = (io["wav_float32"].astype(np.float64) * 32768).astype(np.int16)
    assert np.array_equal(pcm, io["wav_int16"])


def test_network_reproduces_fixture_output_and_intermediates(engine: EmoteEngine, io: dict) -> None:
    engine._load()
    net = engine._net
    cond = np.concatenate(
        [np.eye(8)[io["emotion_index"]], np.eye(3)[io["intensity_index"]], np.eye(4)[io["identity_index"]]]
    )
    cond = np.tile(cond.astype(np.float32), (62, 1))
    assert np.array_equal(cond, condition_matrix(emotion_track(62, "surprised", 1.0), 1, 4))
    keep: dict = {}
    with torch.inference_mode():
        out = net(torch.from_numpy(io["input_values"])[None], torch.from_numpy(cond)[None], keep)
    np.testing.assert_allclose(out[0].numpy(), io["output"], atol=ATOL, rtol=0)
    for key in ("audio_feature", "seq_encoder_output", "styled_hidden", "decoder_latent", "prior_input_sequence"):
        np.testing.assert_allclose(keep[key][0].numpy(), io[key], atol=ATOL, rtol=0, err_msg=key)


def test_attention_biases_are_added_not_masked(engine: EmoteEngine, io: dict) -> None:
    """The fixture's fast-path output (float bias read as a boolean mask) is far from ours."""
    track = engine.run(io["wav_float32"], _fixture_options())
    ours = np.concatenate([track.values, track.rotations["jaw"]], axis=1)
    np.testing.assert_allclose(ours, io["output"], atol=ATOL, rtol=0)
    assert np.abs(ours - io["output_fastpath"]).max() > 100 * ATOL


def test_biased_layer_is_explicit_softmax_with_bias_in_any_mode() -> None:
    """softmax(QKᵀ/√d + bias)V per head, whatever the fast-path switch, grad mode or train/eval state."""
    from core.engines.emote.network import BiasedEncoderLayer, temporal_bias

    torch.manual_seed(0)
    dim, heads, t = 16, 2, 40
    layer = BiasedEncoderLayer(dim, heads, 24, "gelu")
    assert all(torch.isfinite(p).all() for p in layer.parameters())  # initialised like nn.MultiheadAttention
    for p in layer.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(3, t, dim)
    bias = temporal_bias("alibi_future", heads, t)
    assert bias is not None

    def explicit(x64: torch.Tensor) -> torch.Tensor:
        w = {k: v.double() for k, v in layer.state_dict().items()}
        norm = torch.nn.functional.layer_norm
        qkv = x64 @ w["self_attn.in_proj_weight"].T + w["self_attn.in_proj_bias"]
        q, k, v = (y.view(3, t, heads, dim // heads).transpose(1, 2) for y in qkv.chunk(3, -1))
        att = torch.softmax(q @ k.transpose(-1, -2) / (dim // heads) ** 0.5 + bias.double(), -1) @ v
        att = att.transpose(1, 2).reshape(3, t, dim) @ w["self_attn.out_proj.weight"].T + w["self_attn.out_proj.bias"]
        h = norm(x64 + att, (dim,), w["norm1.weight"], w["norm1.bias"], 1e-5)
        ff = torch.nn.functional.gelu(h @ w["linear1.weight"].T + w["linear1.bias"]) @ w["linear2.weight"].T
        return norm(h + ff + w["linear2.bias"], (dim,), w["norm2.weight"], w["norm2.bias"], 1e-5)

    want = explicit(x.double())
    for fastpath in (True, False):
        torch.backends.mha.set_fastpath_enabled(fastpath)
        try:
            for train in (False, True):
                layer.train(train)
                with torch.inference_mode():
                    got = layer(x, bias)
                np.testing.assert_allclose(got.double().numpy(), want.numpy(), atol=1e-5, rtol=0)
        finally:
            torch.backends.mha.set_fastpath_enabled(True)
    # the same weights in torch's own layer on its eval fast path mask the bias instead: a different answer
    ref = torch.nn.TransformerEncoderLayer(dim, heads, 24, dropout=0.0, activation="gelu", batch_first=True).eval()
    ref.load_state_dict(layer.state_dict())
    with torch.inference_mode():
        masked = ref(x, src_mask=bias.repeat(3, 1, 1))
    assert np.abs(masked.double().numpy() - want.numpy()).max() > 1e-2


def test_engine_track_is_the_fixture_output(engine: EmoteEngine, io: dict) -> None:
    seen: list[float] = []
    track = engine.run(io["wav_float32"], _fixture_options(), progress=lambda f, _m: seen.append(f))
    assert track.rig == "flame" and track.fps == 25.0
    assert track.channels == [f"exp{i:03d}" for i in range(100)]
    assert track.values.shape == (62, 100) and track.rotations["jaw"].shape == (62, 3)
    np.testing.assert_allclose(track.values, io["predicted_exp"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(track.rotations["jaw"], io["predicted_jaw"], atol=ATOL, rtol=0)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    meta = track.meta
    assert meta["engine"] == "emote" and meta["model_version"] == engine.model_dir.name
    assert (meta["emotion"], meta["intensity"], meta["identity_index"]) == ("surprised", 1.0, 1)
    assert meta["expects_flame"] == "FLAME 2020" and meta["audio_duration"] == pytest.approx(2.5)


def test_cli_animate_returns_fixture_output(release_dir: Path, io: dict, tmp_path: Path) -> None:
    from cli.main import main
    from core.track import Track

    wav = tmp_path / "in.wav"
    sf.write(wav, io["wav_float32"], 16000, subtype="FLOAT")  # lossless: load_audio gives wav_float32 back
    out = tmp_path / "t.npz"
    argv = ["animate", str(wav), "--engine", "emote", "--model-dir", str(release_dir), "--emotion", "surprised"]
    assert main([*argv, "--intensity", "1", "--identity", "1", "-o", str(out)]) == 0
    track = Track.load(out)
    np.testing.assert_allclose(track.values, io["predicted_exp"], atol=ATOL, rtol=0)
    with np.load(out) as z:
        np.testing.assert_allclose(z["rotation_jaw"], io["predicted_jaw"], atol=ATOL, rtol=0)


# ---- the full-size layout ------------------------------------------------------------------------
def test_full_size_manifest_matches_a_model_built_from_its_shapes(reference_dir: Path) -> None:
    manifest = json.loads((reference_dir / "emote_v2_full_manifest.json").read_text())["keys"]
    shapes = {k: torch.empty(v["shape"], device="meta") for k, v in manifest.items()}
    cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")
    dec = cfg["model"]["sequence_decoder"]
    dec["nhead"] = 8
    dec["style_embedding"]["n_identities"] = 32
    prior = dec["motion_prior"]["cfg"]
    prior["model"]["sequence_decoder"]["nhead"] = 8
    cfg["model"]["audio"].pop("wav2vec2_config_overrides")
    config = emote_config(cfg, shapes, prior)
    assert (config.model_dim, config.bert_ff, config.n_identities) == (256, 256, 32)
    assert (config.flint.feature_dim, config.flint.ff_dim, config.flint.output_dim) == (128, 384, 103)
    assert config.wav2vec2["num_attention_heads"] == 12 and config.wav2vec2["num_hidden_layers"] == 12
    assert config == dataclasses.replace(EmoteConfig.emote_v2(), identity_names=[])
    with torch.device("meta"):
        net = EmoteNetwork(config)
    ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in rename_for(set(ours), shapes).items()}
    assert len(manifest) == 270
    assert ours == theirs


# ---- release folders -----------------------------------------------------------------------------
def test_prior_weights_from_a_separate_flint_folder(tmp_path: Path, reference_dir: Path, io: dict) -> None:
    sd = _state_dict(reference_dir)
    prior = {k[len(PRIOR) :]: v for k, v in sd.items() if k.startswith(PRIOR)}
    emote = {k: v for k, v in sd.items() if not k.startswith(PRIOR)}
    cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")
    prior_cfg = cfg["model"]["sequence_decoder"]["motion_prior"].pop("cfg")
    models = tmp_path / "assets" / "TalkingHead" / "models"
    folder = _release(models / "EMOTE_v2", reference_dir, sd=emote, cfg=cfg)
    flint = tmp_path / "assets" / "MotionPrior" / "models" / "FLINTv2"
    (flint / "checkpoints").mkdir(parents=True)
    (flint / "cfg.yaml").write_text(json.dumps(prior_cfg))
    prior["motion_encoder.linear.weight"] = torch.zeros(2, 2)  # FLINT's encoder: discarded by EMOTE
    # Lightning's "val/loss_total" monitor name makes a sub-folder, as in the released FLINTv2 folder
    (flint / "checkpoints" / "model-epoch=0099-val").mkdir()
    torch.save({"state_dict": prior}, flint / "checkpoints" / "model-epoch=0099-val" / "loss_total=0.0123.ckpt")
    torch.save({"state_dict": {}}, flint / "checkpoints" / "model-epoch=0010-val_loss_total=0.9.ckpt")
    release = load_release(folder)
    assert release.prior_folder == flint
    track = EmoteEngine(model_dir=folder).run(io["wav_float32"], _fixture_options())
    np.testing.assert_allclose(track.values, io["predicted_exp"], atol=ATOL, rtol=0)


def test_missing_folder_says_where_to_put_the_weights(tmp_path: Path) -> None:
    eng = EmoteEngine(model_dir=tmp_path / "nowhere")
    ready, message = eng.status()
    assert not ready and "cfg.yaml" in message and "last.ckpt" in message and str(tmp_path) in message
    with pytest.raises(ModelMissingError, match=r"checkpoints/last\.ckpt"):
        eng.run(np.zeros(16000, np.float32), EngineOptions())


def test_default_folder_is_under_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path))
    assert EmoteEngine().model_dir == tmp_path / "emote" / "EMOTE_v2"


def test_checkpoint_of_another_model_is_refused(tmp_path: Path, reference_dir: Path) -> None:
    folder = _release(tmp_path / "EMOTE_v2", reference_dir)
    shutil.copy(reference_dir / "styletalk_small.pth", folder / "checkpoints" / "last.ckpt")
    with pytest.raises(ModelFormatError, match=r"no 'state_dict' .*model_state_dict"):
        load_release(folder)
    other = torch.load(reference_dir / "styletalk_small.pth", weights_only=True)["model_state_dict"]
    torch.save({"state_dict": other}, folder / "checkpoints" / "last.ckpt")
    with pytest.raises(ModelFormatError, match=r"not an EMOTE checkpoint: missing keys \(6\): .*sequence_enc") as err:
        load_release(folder)
    assert "unexpected keys (156): content_encoder." in str(err.value)


def test_missing_and_unexpected_keys_are_named(tmp_path: Path, reference_dir: Path) -> None:
    sd = _state_dict(reference_dir)
    del sd["sequence_decoder.bert_decoder.layers.0.norm2.bias"]
    sd["sequence_decoder.extra_head.weight"] = torch.zeros(3)
    release = load_release(_release(tmp_path / "E", reference_dir, sd=sd))
    net = EmoteNetwork(release.config)
    with pytest.raises(ModelFormatError) as err:
        load_weights(net, release.state_dict, release.checkpoint)
    assert "missing (1): sequence_decoder.bert_decoder.layers.0.norm2.bias" in str(err.value)
    assert "unexpected (1): sequence_decoder.extra_head.weight" in str(err.value)


def _damage(kind: str, sd: dict, ckpt: Path, reference: Path) -> None:
    """Write a damaged ``last.ckpt``: cut short, or with one entry of the wrong rank, size or type."""
    sd = dict(sd)
    if kind == "cut short":
        whole = (reference / "emote_small.ckpt").read_bytes()
        ckpt.write_bytes(whole[: len(whole) // 2])
        return
    if kind == "0-d condition weight":
        sd["sequence_decoder.obj_vector.map.weight"] = torch.tensor(1.0)
    elif kind == "1-d conv weight":
        sd["audio_model.model.feature_extractor.conv_layers.0.conv.weight"] = torch.zeros(16)
    elif kind == "empty projection":
        sd["audio_model.model.feature_projection.projection.weight"] = torch.zeros(0, 0)
    elif kind == "unbuildable sizes":  # 64-wide position-conv groups in a 32-wide model: 0 groups
        sd["audio_model.model.encoder.pos_conv_embed.conv.weight_v"] = torch.zeros(32, 64, 128)
    elif kind == "wrong size":
        sd["sequence_decoder.bert_decoder.layers.0.norm2.weight"] = torch.zeros(5)
    elif kind == "integer weights":
        key = "sequence_decoder.bert_decoder.layers.0.norm2.weight"
        sd[key] = sd[key].to(torch.int64)
    torch.save({"state_dict": [1, 2] if kind == "state_dict a list" else sd}, ckpt)


DAMAGE = {
    "cut short": "is not a readable EMOTE checkpoint, or is cut short (PytorchStreamReader failed reading zip archive",
    "0-d condition weight": "is damaged or not an EMOTE checkpoint: 'sequence_decoder.obj_vector.map.weight' has "
    "shape (), where 2 dimensions, none of them 0, are expected",
    "1-d conv weight": "'audio_model.model.feature_extractor.conv_layers.0.conv.weight' has shape (16,), where 3",
    "empty projection": "'audio_model.model.feature_projection.projection.weight' has shape (0, 0), where 2",
    "unbuildable sizes": "with its cfg.yaml describes a network that cannot be built (groups must be a positive",
    "wrong size": "does not match EMOTE's layout (wrong shape (1): sequence_decoder.bert_decoder.layers.0.norm2.weight",
    "integer weights": "not floating-point (1): sequence_decoder.bert_decoder.layers.0.norm2.weight torch.int64",
    "state_dict a list": "is not a Lightning checkpoint: its 'state_dict' is a list, not a dictionary",
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_checkpoints_are_one_line_naming_the_file(tmp_path: Path, reference_dir: Path, kind: str) -> None:
    folder = _release(tmp_path / "E", reference_dir)
    ckpt = folder / "checkpoints" / "last.ckpt"
    _damage(kind, _state_dict(reference_dir), ckpt, reference_dir)
    with pytest.raises(ModelFormatError) as err:
        EmoteEngine(model_dir=folder).run(np.zeros(16000, np.float32), _fixture_options())
    message = str(err.value)
    assert message.startswith(str(ckpt)) and DAMAGE[kind] in message and "\n" not in message, message


def test_a_damaged_checkpoint_is_one_line_from_the_cli(
    tmp_path: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    folder = _release(tmp_path / "E", reference_dir)
    _damage("0-d condition weight", _state_dict(reference_dir), folder / "checkpoints" / "last.ckpt", reference_dir)
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    out = tmp_path / "t.npz"
    assert main(["animate", str(wav), "--engine", "emote", "--model-dir", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mouthpiece animate: error: ") and err.count("\n") == 1, err
    assert DAMAGE["0-d condition weight"] in err and not out.exists()


def test_a_damaged_prior_names_the_flint_checkpoint(tmp_path: Path, reference_dir: Path) -> None:
    sd = _state_dict(reference_dir)
    prior = {k[len(PRIOR) :]: v for k, v in sd.items() if k.startswith(PRIOR)}
    prior["motion_decoder.decoder_linear_embedding.weight"] = torch.zeros(16)
    cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")
    cfg["model"]["sequence_decoder"]["motion_prior"]["path"] = "FLINTv2"
    emote = {k: v for k, v in sd.items() if not k.startswith(PRIOR)}
    folder = _release(tmp_path / "EMOTE_v2", reference_dir, sd=emote, cfg=cfg)
    flint = tmp_path / "FLINTv2"
    (flint / "checkpoints").mkdir(parents=True)
    (flint / "cfg.yaml").write_text(json.dumps(cfg["model"]["sequence_decoder"]["motion_prior"]["cfg"]))
    torch.save({"state_dict": prior}, flint / "checkpoints" / "last.ckpt")
    with pytest.raises(ModelFormatError, match=r"decoder_linear_embedding\.weight' has shape \(16,\)") as err:
        load_release(folder)
    assert str(err.value).startswith(f"{flint / 'checkpoints' / 'last.ckpt'} is damaged or not a FLINT checkpoint")


def _real_release_extras(sd: dict) -> dict:
    """What a real EMOTE_v2 ``last.ckpt`` holds besides the network: buffers and Lightning's extras."""
    from omegaconf import OmegaConf

    sd = dict(sd)
    sd["preprocessor.flame.v_template"] = torch.zeros(5, 3)
    sd["sequence_decoder.flame.shapedirs"] = torch.zeros(5, 3, 2)
    sd[PRIOR + "preprocessor.flame.v_template"] = torch.zeros(5, 3)
    sd[PRIOR + "postprocessor.flame.v_template"] = torch.zeros(5, 3)
    sd["renderer.render.faces"] = torch.zeros(7, 3, dtype=torch.long)  # stage-2 configs register a renderer
    hp = OmegaConf.create({"model": {"lr": 1e-4, "sizes": [1, 2]}, "data": {"root": "/data/MEAD"}})
    return {
        "state_dict": sd,
        "epoch": 7,
        "global_step": 12345,
        "pytorch-lightning_version": "1.9.5",
        "hyper_parameters": hp,
        "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-4}]}],
        "lr_schedulers": [],
        "callbacks": {"ModelCheckpoint": {"best_model_score": np.float64(0.11), "dirpath": Path("/ckpt/here")}},
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 8}}}},
    }


def test_real_release_buffers_and_lightning_extras_are_ignored(tmp_path: Path, reference_dir: Path, io: dict) -> None:
    folder = _release(tmp_path / "E", reference_dir)
    torch.save(_real_release_extras(_state_dict(reference_dir)), folder / "checkpoints" / "last.ckpt")
    track = EmoteEngine(model_dir=folder).run(io["wav_float32"], _fixture_options())
    np.testing.assert_allclose(track.values, io["predicted_exp"], atol=ATOL, rtol=0)
    plain_dir = _release(tmp_path / "plain", reference_dir)
    plain = EmoteEngine(model_dir=plain_dir).run(io["wav_float32"], _fixture_options())
    assert np.array_equal(track.values, plain.values)
    assert np.array_equal(track.rotations["jaw"], plain.rotations["jaw"])


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return os.system, (f"touch {self.marker}",)


def test_checkpoint_with_code_objects_is_refused_without_running(tmp_path: Path, reference_dir: Path) -> None:
    folder = _release(tmp_path / "E", reference_dir)
    marker = tmp_path / "ran"
    ckpt = _real_release_extras(_state_dict(reference_dir))
    ckpt["hyper_parameters"] = _Payload(marker)
    torch.save(ckpt, folder / "checkpoints" / "last.ckpt")
    with pytest.raises(ModelFormatError, match=r"code-bearing objects \((posix|os)\.system\); it is refused") as err:
        load_release(folder)
    assert "weights_only" not in str(err.value)
    assert not marker.exists()


def test_flint_head_count_is_never_guessed(tmp_path: Path, reference_dir: Path) -> None:
    cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")
    del cfg["model"]["sequence_decoder"]["motion_prior"]["cfg"]
    folder = _release(tmp_path / "TalkingHead" / "models" / "EMOTE_v2", reference_dir, cfg=cfg)
    with pytest.raises(ModelFormatError, match=r"head count .* not in .*cfg\.yaml.*MotionPrior/models/FLINTv2"):
        load_release(folder)
    flint = tmp_path / "MotionPrior" / "models" / "FLINTv2"
    flint.mkdir(parents=True)
    prior_cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")["model"]["sequence_decoder"]["motion_prior"]["cfg"]
    (flint / "cfg.yaml").write_text(json.dumps(prior_cfg))
    assert load_release(folder).config.flint.nhead == 2


def test_identity_count_must_agree_with_cfg(tmp_path: Path, reference_dir: Path) -> None:
    cfg = read_yaml(reference_dir / "emote_small_cfg.yaml")
    cfg["model"]["sequence_decoder"]["style_embedding"]["n_identities"] = 32
    with pytest.raises(ModelFormatError, match="32 identities but the checkpoint's condition layer has 4"):
        load_release(_release(tmp_path / "E", reference_dir, cfg=cfg))


# ---- options ------------------------------------------------------------------------------------
def test_describe_lists_emotions_identities_and_flame(engine: EmoteEngine, release_dir: Path) -> None:
    assert EmoteEngine(model_dir=release_dir).describe()["identities"] == ["0", "1", "2", "3"]  # from cfg.yaml
    info = engine.describe()
    assert info["emotions"][:3] == ["neutral", "happy", "sad"] and len(info["emotions"]) == 8
    assert info["identities"] == ["0", "1", "2", "3"]
    assert info["native_fps"] == 25.0 and "FLAME 2020" in info["flame"]
    assert engine.status()[0]


def test_mead_speaker_names() -> None:
    cfg = {"data": {"data_class": "MEADPseudo3DDM", "split": "random_by_identityV2_sorted_70_15_15"}}
    names = identity_names(cfg, 32)
    assert names[0] == "M003" and names[-1] == "W029" and len(set(names)) == 32
    assert resolve_identity("w029", names, 32) == 31 and resolve_identity("5", names, 32) == 5
    assert identity_names(cfg, 4) == [] and identity_names({}, 32) == []
    assert identity_names({"data": {"train_subjects": ["a", "b"]}}, 2) == ["a", "b"]
    with pytest.raises(InputError, match="choose one of: M003, M005"):
        resolve_identity("M999", names, 32)


def test_device_auto_and_unknown(release_dir: Path) -> None:
    audio = speech_like(1.0)
    with pytest.raises(InputError, match="device must be cpu, cuda or auto, not 'tpu9'"):
        EmoteEngine(model_dir=release_dir, device="tpu9").run(audio, EngineOptions())
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="sees no CUDA GPU"):
            EmoteEngine(model_dir=release_dir, device="cuda").run(audio, EngineOptions())
        eng = EmoteEngine(model_dir=release_dir, device="auto")
        assert eng.run(audio, EngineOptions()).num_frames == 25 and eng._torch_device.type == "cpu"


def test_identity_is_validated(engine: EmoteEngine) -> None:
    audio = speech_like(1.0)
    with pytest.raises(InputError, match="out of range"):
        engine.run(audio, EngineOptions(extra={"identity": 4}))
    with pytest.raises(InputError, match="unknown EMOTE identity 'M003'"):
        engine.run(audio, EngineOptions(extra={"identity": "M003"}))
    a = engine.run(audio, EngineOptions(extra={"identity": "2"}))
    b = engine.run(audio, EngineOptions(extra={"identity": 2}))
    c = engine.run(audio, EngineOptions(extra={"identity": 3}))
    assert np.array_equal(a.values, b.values) and a.meta["identity"] == "2"
    assert np.abs(a.values - c.values).max() > 1e-3


def test_intensity_levels_and_blends() -> None:
    np.testing.assert_array_equal(intensity_vector(0.0), [1, 0, 0])
    np.testing.assert_array_equal(intensity_vector(0.5), [0, 1, 0])
    np.testing.assert_array_equal(intensity_vector(1.0), [0, 0, 1])
    np.testing.assert_allclose(intensity_vector(0.25), [0.5, 0.5, 0])
    np.testing.assert_allclose(intensity_vector(0.9), [0, 0.2, 0.8], atol=1e-6)
    np.testing.assert_array_equal(emotion_vector("neutral", 1.0)[8:], [1, 0, 0])  # neutral has one level
    assert emotion_vector("contempt", 0.5)[7] == 1.0 and emotion_vector("contempt", 0.5).sum() == 2.0


def test_engine_feeds_the_blended_condition(engine: EmoteEngine) -> None:
    audio = speech_like(1.0)
    track = engine.run(audio, EngineOptions(emotion="happy", intensity=0.25, extra={"identity": 3}))
    cond = np.zeros((25, 15), np.float32)
    cond[:, 1] = 1.0  # happy
    cond[:, 8:10] = 0.5  # halfway between mild and medium
    cond[:, 14] = 1.0  # identity 3
    with torch.inference_mode():
        direct = engine._net(torch.from_numpy(prepare_audio(audio))[None], torch.from_numpy(cond)[None])[0]
    np.testing.assert_allclose(track.values, direct[:, :100].numpy(), atol=1e-6)
    mild = engine.run(audio, EngineOptions(emotion="happy", intensity=0.0)).values
    strong = engine.run(audio, EngineOptions(emotion="happy", intensity=1.0)).values
    assert np.abs(mild - strong).max() > 1e-3
    n0 = engine.run(audio, EngineOptions(emotion="neutral", intensity=0.0)).values
    n1 = engine.run(audio, EngineOptions(emotion="neutral", intensity=1.0)).values
    assert np.array_equal(n0, n1)


def test_emotion_keys_interpolate_per_frame() -> None:
    rows = emotion_track(75, "neutral", 0.5, [(2.0, "angry", 1.0), (0.0, "happy", 1.0)])
    np.testing.assert_array_equal(rows[0], emotion_vector("happy", 1.0))
    np.testing.assert_allclose(rows[25], (emotion_vector("happy", 1.0) + emotion_vector("angry", 1.0)) / 2)
    np.testing.assert_array_equal(rows[74], emotion_vector("angry", 1.0))


def test_time_varying_emotion(engine: EmoteEngine) -> None:
    audio = speech_like(2.0)
    happy = engine.run(audio, EngineOptions(emotion="happy", intensity=1.0))
    constant_keys = [(0.0, "happy", 1.0), (1.5, "happy", 1.0)]
    keyed = engine.run(audio, EngineOptions(emotion="sad", emotion_keys=constant_keys))
    np.testing.assert_allclose(keyed.values, happy.values, atol=1e-6)
    changing = engine.run(audio, EngineOptions(emotion_keys=[(0.0, "happy", 1.0), (2.0, "angry", 1.0)]))
    assert np.abs(changing.values - happy.values).max() > 1e-3
    assert changing.meta["emotion_keys"] == [[0.0, "happy", 1.0], [2.0, "angry", 1.0]]


# ---- lengths ------------------------------------------------------------------------------------
def test_requested_frame_rate(engine: EmoteEngine) -> None:
    audio = speech_like(2.0)
    native = engine.run(audio, EngineOptions(fps=50))
    assert native.fps == 25.0, "the engine returns its native rate; the pipeline resamples"
    at50 = animate(engine, audio, AnimateRequest(engine="emote", fps=50))
    assert at50.fps == 50.0 and at50.num_frames == 2 * native.num_frames - 1
    np.testing.assert_array_equal(at50.values[::2], native.values)
    np.testing.assert_allclose(at50.values[1], (native.values[0] + native.values[1]) / 2, atol=1e-6)


def test_silence_one_second_and_too_short(engine: EmoteEngine) -> None:
    silent = engine.run(np.zeros(16000 * 3, np.float32), EngineOptions())
    assert silent.values.shape == (75, 100) and np.isfinite(silent.values).all()
    one = engine.run(speech_like(1.0), EngineOptions())
    assert one.values.shape == (25, 100) and one.rotations["jaw"].shape == (25, 3)
    with pytest.raises(InputError, match="too short"):
        engine.run(np.zeros(639, np.float32), EngineOptions())
    with pytest.raises(InputError, match="mono"):
        engine.run(np.zeros((16000, 2), np.float32), EngineOptions())


def test_window_plan_and_fades() -> None:
    assert plan_windows(1200, 1200) == [(0, 1200)]
    for frames in (1201, 2500, 7500, 7513):
        spans = plan_windows(frames, 1200)
        assert spans[0][0] == 0 and spans[-1][1] == frames
        assert all(s % 8 == 0 and 0 < e - s <= 1200 for s, e in spans)
        assert all(s1 < e0 for (_, e0), (s1, _) in itertools.pairwise(spans))
        total = np.zeros(frames)
        for (s, e), w in zip(spans, fade_weights(spans, 96), strict=True):
            total[s:e] += w
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.slow
def test_windowed_run_has_no_seam(engine: EmoteEngine) -> None:
    engine._load()
    values = prepare_audio(speech_like(24.0))
    frames = values.size // 640
    cond = condition_matrix(emotion_track(frames, "happy", 0.5), 0, 4)
    device = torch.device("cpu")
    single = run_windows(engine._net, values, cond, device, window=frames)
    window, overlap = 320, 96
    spans = plan_windows(frames, window, overlap)
    assert len(spans) == 3
    windowed = run_windows(engine._net, values, cond, device, window=window, overlap=overlap)
    seam = np.zeros(frames, bool)
    for _, e in spans[:-1]:
        seam[e - overlap : e] = True
    assert np.abs(windowed - single)[seam].max() < SEAM_TOL
    # no jump: the largest frame-to-frame step at the seams stays within the single pass's largest step
    step = np.abs(np.diff(windowed, axis=0)).max(axis=1)
    assert step[seam[1:]].max() <= np.abs(np.diff(single, axis=0)).max() + 1e-3


def test_bias_is_the_upstream_table_cropped_and_extends_past_it() -> None:
    from core.engines.emote.network import temporal_bias

    for kind in ("faceformer_future", "alibi_future"):
        table = temporal_bias(kind, 8, UPSTREAM_TABLE_FRAMES)
        longer = temporal_bias(kind, 8, 3000)
        assert table is not None and longer is not None and longer.shape == (8, 3000, 3000)
        assert torch.equal(longer[:, :UPSTREAM_TABLE_FRAMES, :UPSTREAM_TABLE_FRAMES], table)
        assert torch.equal(temporal_bias(kind, 8, 62), table[:, :62, :62])


def test_single_pass_length_follows_the_memory_budget() -> None:
    cfg = EmoteConfig.emote_v2()
    assert pass_bytes(cfg, 1200) < pass_bytes(cfg, 7500)
    for frames in (264, 1200, 7504):
        assert single_pass_frames(cfg, pass_bytes(cfg, frames)) == frames
        assert single_pass_frames(cfg, pass_bytes(cfg, frames) - 1) == frames - 8
    assert single_pass_frames(cfg, 1) == 256  # never below the shortest window
    # a 300 s clip (the server's limit) in one pass wants about 11 GB at full size: a GPU's, not a laptop's
    assert 10e9 < pass_bytes(cfg, 7500) < 12e9


@pytest.mark.slow
def test_long_clip_runs_in_one_pass_or_in_windows_past_the_budget(engine: EmoteEngine, release_dir: Path) -> None:
    audio = speech_like(60.0)
    seen: list[tuple[float, str]] = []
    one = engine.run(audio, EngineOptions(), progress=lambda f, m: seen.append((f, m)))
    assert one.values.shape == (1500, 100) and one.meta["passes"] == 1
    assert [m for _, m in seen if m.startswith("EMOTE")] == ["EMOTE"]
    cfg = engine._release.config
    tight = EmoteEngine(model_dir=release_dir, memory_budget=pass_bytes(cfg, UPSTREAM_TABLE_FRAMES))
    seen.clear()
    track = tight.run(audio, EngineOptions(), progress=lambda f, m: seen.append((f, m)))
    assert track.values.shape == (1500, 100) and np.isfinite(track.values).all() and track.meta["passes"] == 2
    assert [m for _, m in seen if m.startswith("EMOTE window")] == ["EMOTE window 1/2", "EMOTE window 2/2"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert np.abs(track.values - one.values).max() < SEAM_TOL
    cancel = threading.Event()

    def stop_after_first(fraction: float, message: str) -> None:
        if message == "EMOTE window 2/2":
            cancel.set()

    with pytest.raises(Cancelled):
        tight.run(audio, EngineOptions(), progress=stop_after_first, cancel=cancel)


@pytest.mark.slow
def test_five_minute_clip_in_one_pass(engine: EmoteEngine, release_dir: Path) -> None:
    """The server's longest clip in one pass where the budget allows it (on a GPU at full size)."""
    engine._load()
    roomy = EmoteEngine(model_dir=release_dir, memory_budget=pass_bytes(engine._release.config, 7504))
    messages: list[str] = []
    track = roomy.run(speech_like(300.0), EngineOptions(emotion="sad"), progress=lambda _f, m: messages.append(m))
    assert track.values.shape == (7500, 100) and np.isfinite(track.values).all()
    assert np.isfinite(track.rotations["jaw"]).all()
    assert track.meta["passes"] == 1 and "EMOTE" in messages
    assert track.meta["audio_duration"] == pytest.approx(300.0)
