"""EMOTE hyper-parameters: read from the release's ``cfg.yaml`` and the checkpoint's tensor shapes.

Sizes that a state dict fixes (widths, layer counts, condition size, output size) are always taken
from the tensors; the cfg supplies what shapes cannot tell (head counts, bias types, period, strides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ModelFormatError

AUDIO = "audio_model.model."
DECODER = "sequence_decoder."
PRIOR = "sequence_decoder.motion_prior.motion_decoder."

# Keys that every EMOTE checkpoint has; without them the file is some other model.
ANCHOR_KEYS: tuple[str, ...] = (
    AUDIO + "feature_projection.projection.weight",
    AUDIO + "feature_extractor.conv_layers.0.conv.weight",
    "sequence_encoder.linear.weight",
    DECODER + "obj_vector.map.weight",
    DECODER + "decoder.weight",
    DECODER + "squasher_2.linear.weight",
)
PRIOR_ANCHOR = PRIOR + "cross_smooth_layer.weight"

# Wav2Vec2Config() defaults that the tensors cannot reveal (wav2vec2-base).
_W2V_DEFAULT_STRIDES = (5, 2, 2, 2, 2, 2, 2)
_W2V_DEFAULT_HEADS = 12


class LayoutError(ModelFormatError):
    """A tensor that sizes the network is malformed (the message names it; the loader adds the file)."""


def sized(sd: Mapping[str, Any], key: str, ndim: int) -> tuple[int, ...]:
    """The shape of ``sd[key]``, a tensor the network's sizes are read from: ``ndim`` dimensions, none empty."""
    shape = tuple(int(n) for n in getattr(sd[key], "shape", ()))
    if len(shape) != ndim or 0 in shape:
        raise LayoutError(f"'{key}' has shape {shape}, where {ndim} dimensions, none of them 0, are expected")
    return shape


def read_yaml(path: Path) -> dict[str, Any]:
    """A release's cfg.yaml as a dict (plain YAML; OmegaConf interpolations are not resolved)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path} is not valid YAML: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} is not a YAML mapping")
    return data


def cfg_get(cfg: Mapping[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """``cfg["a"]["b"]["c"]`` for ``"a.b.c"``, or ``default`` when any level is absent."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


@dataclass
class FlintConfig:
    """The FLINT motion decoder (the frozen motion prior's decoder half)."""

    input_dim: int = 128
    feature_dim: int = 128
    nhead: int = 8
    ff_dim: int = 384
    num_layers: int = 1
    quant_factor: int = 3
    output_dim: int = 103
    exp_dim: int = 100
    temporal_bias: str = "alibi_future"
    activation: str = "gelu"

    @property
    def latent_frame_size(self) -> int:
        return 2**self.quant_factor


@dataclass
class EmoteConfig:
    """Everything needed to rebuild the EMOTE network."""

    wav2vec2: dict[str, Any] = field(default_factory=dict)
    audio_dim: int = 768
    seq_dim: int = 128
    n_emotions: int = 8
    n_intensities: int = 3
    n_identities: int = 32
    condition_bias: bool = True
    style_op: str = "cat"
    bert_layers: int = 1
    bert_nhead: int = 8
    bert_ff: int = 256
    bert_activation: str = "gelu"
    temporal_bias: str = "faceformer_future"
    period: int = 30
    post_bug_fix: bool = True
    bottleneck_dim: int = 128
    flint: FlintConfig = field(default_factory=FlintConfig)
    identity_names: list[str] = field(default_factory=list)

    @property
    def model_dim(self) -> int:
        return 2 * self.seq_dim if self.style_op == "cat" else self.seq_dim

    @property
    def condition_dim(self) -> int:
        return self.n_emotions + self.n_intensities + self.n_identities

    @classmethod
    def emote_v2(cls) -> EmoteConfig:
        """The full-size EMOTE v2 architecture (wav2vec2-base, d 256, FLINTv2 103 outputs, 32 speakers)."""
        wav2vec2 = {
            "conv_dim": [512] * 7,
            "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
            "conv_bias": False,
            "feat_extract_norm": "group",
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "intermediate_size": 3072,
            "num_conv_pos_embeddings": 128,
            "num_conv_pos_embedding_groups": 16,
            "do_stable_layer_norm": False,
            "conv_stride": list(_W2V_DEFAULT_STRIDES),
            "num_attention_heads": _W2V_DEFAULT_HEADS,
        }
        return cls(wav2vec2=wav2vec2, identity_names=list(MEAD_TRAINING_IDS))


# MEAD speakers that EMOTE was trained on, in the order of its identity one-hot (the upstream demo's list).
MEAD_TRAINING_IDS: tuple[str, ...] = (
    "M003", "M005", "M007", "M009", "M011", "M012", "M013", "M019",
    "M022", "M023", "M024", "M025", "M026", "M027", "M028", "M029",
    "M030", "M031", "W009", "W011", "W014", "W015", "W016", "W018",
    "W019", "W021", "W023", "W024", "W025", "W026", "W028", "W029",
)  # fmt: skip


def wav2vec2_kwargs(sd: Mapping[str, Any], audio_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """Wav2Vec2Config keyword arguments: shapes from the state dict, the rest from cfg overrides."""
    overrides = dict(cfg_get(audio_cfg, "wav2vec2_config_overrides", {}) or {})
    overrides.pop("note", None)
    kw: dict[str, Any] = {}
    if sd:
        conv = sorted(
            (int(m.group(1)), k)
            for k in sd
            if (m := re.fullmatch(re.escape(AUDIO) + r"feature_extractor\.conv_layers\.(\d+)\.conv\.weight", k))
        )
        kw["conv_dim"] = [sized(sd, k, 3)[0] for _, k in conv]
        kw["conv_kernel"] = [sized(sd, k, 3)[-1] for _, k in conv]
        kw["conv_bias"] = AUDIO + "feature_extractor.conv_layers.0.conv.bias" in sd
        kw["feat_extract_norm"] = (
            "layer" if AUDIO + "feature_extractor.conv_layers.1.layer_norm.weight" in sd else "group"
        )
        kw["hidden_size"] = sized(sd, AUDIO + "feature_projection.projection.weight", 2)[0]
        layers = {int(m.group(1)) for k in sd if (m := re.match(re.escape(AUDIO) + r"encoder\.layers\.(\d+)\.", k))}
        kw["num_hidden_layers"] = len(layers)
        ff = AUDIO + "encoder.layers.0.feed_forward.intermediate_dense.weight"
        if ff in sd:
            kw["intermediate_size"] = sized(sd, ff, 2)[0]
        pos_v = AUDIO + "encoder.pos_conv_embed.conv.weight_v"
        if pos_v not in sd:
            pos_v = AUDIO + "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
        if pos_v in sd:
            _, width, kernel = sized(sd, pos_v, 3)
            kw["num_conv_pos_embeddings"] = kernel
            kw["num_conv_pos_embedding_groups"] = kw["hidden_size"] // width
        kw["do_stable_layer_norm"] = bool(overrides.get("do_stable_layer_norm", kw["feat_extract_norm"] == "layer"))
    n_conv = len(kw.get("conv_dim", _W2V_DEFAULT_STRIDES))
    kw["conv_stride"] = list(overrides.get("conv_stride", _W2V_DEFAULT_STRIDES))[:n_conv]
    hidden = kw.get("hidden_size", 768)  # wav2vec2 base and large both use 64-wide heads
    heads = hidden // 64 if hidden % 64 == 0 else _W2V_DEFAULT_HEADS
    kw["num_attention_heads"] = int(overrides.get("num_attention_heads", heads))
    for key in ("layer_norm_eps", "hidden_act", "feat_extract_activation"):
        if key in overrides:
            kw[key] = overrides[key]
    if len(kw["conv_stride"]) != n_conv:
        raise ModelFormatError(f"cfg.yaml gives {len(kw['conv_stride'])} conv strides for {n_conv} conv layers")
    return kw


def _count_layers(sd: Mapping[str, Any], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"layers\.(\d+)\.")
    return len({int(m.group(1)) for k in sd if (m := pat.match(k))})


def flint_config(
    sd: Mapping[str, Any], prior_cfg: Mapping[str, Any] | None, prefix: str = PRIOR, source: str = "the FLINT cfg.yaml"
) -> FlintConfig:
    """FLINT decoder sizes from its tensors (``prefix`` + names) and the prior's cfg (``source`` names it).

    The head count cannot be read from the tensors, so a cfg without it is refused rather than guessed.
    """
    dec_cfg = cfg_get(prior_cfg, "model.sequence_decoder", {}) or {}
    if not isinstance(dec_cfg, Mapping) or "nhead" not in dec_cfg:
        raise ModelFormatError(
            f"FLINT's attention head count (model.sequence_decoder.nhead) is not in {source}; "
            "put the motion prior's folder (MotionPrior/models/FLINTv2 with its cfg.yaml) beside the EMOTE release"
        )
    output_dim = sized(sd, prefix + "cross_smooth_layer.weight", 3)[0]
    ff_w = prefix + "decoder_transformer.layers.0.linear1.weight"
    embedding = sized(sd, prefix + "decoder_linear_embedding.weight", 2)
    expander = re.compile(re.escape(prefix) + r"expander\.(\d+)\.")
    n_expand = len({m.group(1) for k in sd if (m := expander.match(k))})
    components = cfg_get(prior_cfg, "model.sequence_components", None) or {}
    rot_rep = cfg_get(prior_cfg, "model.rotation_representation", "aa")
    if rot_rep != "aa":
        raise ModelFormatError(f"the FLINT prior predicts jaw rotations as '{rot_rep}'; only axis-angle is supported")
    exp_dim = int(components.get("exp", output_dim - 3)) if isinstance(components, Mapping) else output_dim - 3
    if exp_dim + 3 != output_dim:
        raise ModelFormatError(
            f"the FLINT prior outputs {output_dim} values, which is not {exp_dim} expression + 3 jaw values"
        )
    bias = cfg_get(dec_cfg, "temporal_bias.type", "alibi_future")
    pe = cfg_get(dec_cfg, "positional_encoding.type", "none")
    if pe != "none":
        raise ModelFormatError(f"FLINT positional encoding '{pe}' is not supported (EMOTE's prior uses none)")
    quant = cfg_get(prior_cfg, "model.sizes.quant_factor", n_expand)
    if int(quant) != n_expand:
        raise ModelFormatError(f"FLINT cfg says quant_factor {quant} but the checkpoint has {n_expand} expander blocks")
    return FlintConfig(
        input_dim=embedding[1],
        feature_dim=embedding[0],
        nhead=int(dec_cfg["nhead"]),
        ff_dim=sized(sd, ff_w, 2)[0] if ff_w in sd else 0,
        num_layers=_count_layers(sd, prefix + "decoder_transformer."),
        quant_factor=n_expand,
        output_dim=output_dim,
        exp_dim=exp_dim,
        temporal_bias=str(bias),
        activation=str(dec_cfg.get("activation", "gelu")),
    )


def identity_names(cfg: Mapping[str, Any] | None, n_identities: int) -> list[str]:
    """Names for the identity one-hot: the cfg's own subject list, or EMOTE's MEAD training speakers."""
    listed = cfg_get(cfg, "data.train_subjects", None)
    if isinstance(listed, list) and len(listed) == n_identities and all(isinstance(s, str) for s in listed):
        return list(listed)
    data_class = str(cfg_get(cfg, "data.data_class", ""))
    if "MEAD" in data_class.upper() and n_identities == len(MEAD_TRAINING_IDS):
        return list(MEAD_TRAINING_IDS)
    return []


def emote_config(
    cfg: Mapping[str, Any],
    sd: Mapping[str, Any],
    prior_cfg: Mapping[str, Any] | None,
    prior_prefix: str = PRIOR,
    prior_source: str = "the FLINT cfg.yaml",
) -> EmoteConfig:
    """Build the config from a release's cfg.yaml, its state dict and the FLINT prior's cfg (from ``prior_source``)."""
    dec = cfg_get(cfg, "model.sequence_decoder", {}) or {}
    style = dec.get("style_embedding", {}) or {}
    if dec.get("type", "BertPriorDecoder") != "BertPriorDecoder":
        raise ModelFormatError(f"sequence decoder '{dec.get('type')}' is not EMOTE's BertPriorDecoder")
    if isinstance(style, Mapping) and style.get("type", "emotion_linear") != "emotion_linear":
        raise ModelFormatError(f"style embedding '{style.get('type')}' is not supported (EMOTE uses emotion_linear)")
    for flag in ("use_shape", "use_expression", "use_valence", "use_arousal", "use_emotion_feature"):
        if isinstance(style, Mapping) and style.get(flag):
            raise ModelFormatError(f"style embedding option '{flag}' is not supported by this EMOTE loader")
    if dec.get("squash_before", False) or dec.get("squash_type", "stack_linear") != "stack_linear":
        raise ModelFormatError("only EMOTE's stack-linear squash after the transformer is supported")
    if cfg_get(dec, "positional_encoding.type", "none") != "none":
        raise ModelFormatError("a positional encoding in the sequence decoder is not supported (EMOTE uses none)")
    style_op = str(dec.get("style_op", "cat"))
    if style_op not in ("cat", "add"):
        raise ModelFormatError(f"style_op '{style_op}' is not supported")

    condition_inputs = sized(sd, DECODER + "obj_vector.map.weight", 2)[1]
    n_emotions = int(style.get("n_expression", 8))
    n_intensities = int(style.get("n_intensities", 3))
    n_identities = condition_inputs - n_emotions - n_intensities
    if n_identities < 1:
        raise ModelFormatError(
            f"the condition layer takes {condition_inputs} inputs, fewer than {n_emotions} emotions + "
            f"{n_intensities} intensities + 1 identity"
        )
    if "n_identities" in style and int(style["n_identities"]) != n_identities:
        raise ModelFormatError(
            f"cfg.yaml says {style['n_identities']} identities but the checkpoint's condition layer has {n_identities}"
        )
    if n_emotions != 8:
        raise ModelFormatError(f"EMOTE conditions on 8 emotions; this checkpoint uses {n_emotions}")
    seq_dim, audio_dim = sized(sd, "sequence_encoder.linear.weight", 2)
    bert_ff = DECODER + "bert_decoder.layers.0.linear1.weight"
    flint = flint_config(sd, prior_cfg, prior_prefix, prior_source)
    squash_inputs = sized(sd, DECODER + "squasher_2.linear.weight", 2)[1]
    bottleneck = sized(sd, DECODER + "decoder.weight", 2)[0]
    if squash_inputs != bottleneck * flint.latent_frame_size:
        raise ModelFormatError(
            f"the squash layer takes {squash_inputs} inputs, not {flint.latent_frame_size} frames x {bottleneck}"
        )
    return EmoteConfig(
        wav2vec2=wav2vec2_kwargs(sd, cfg_get(cfg, "model.audio", {})),
        audio_dim=audio_dim,
        seq_dim=seq_dim,
        n_emotions=n_emotions,
        n_intensities=n_intensities,
        n_identities=n_identities,
        condition_bias=DECODER + "obj_vector.map.bias" in sd,
        style_op=style_op,
        bert_layers=_count_layers(sd, DECODER + "bert_decoder."),
        bert_nhead=int(dec.get("nhead", 8)),
        bert_ff=sized(sd, bert_ff, 2)[0] if bert_ff in sd else 0,
        bert_activation=str(dec.get("activation", "gelu")),
        temporal_bias=str(dec.get("temporal_bias_type", "none")),
        period=int(dec.get("period", 30)),
        post_bug_fix=bool(dec.get("post_bug_fix", False)),
        bottleneck_dim=bottleneck,
        flint=flint,
        identity_names=identity_names(cfg, n_identities),
    )
