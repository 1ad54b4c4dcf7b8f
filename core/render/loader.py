"""Load StyleTalk's ``renderer_checkpoint.pt`` (``{"net_G_ema": state_dict}``) strictly.

Layer sizes are read from the weights. A config file in the layout of the official
``configs/renderer_conf.yaml`` (``common`` / ``mapping_net`` / ``warpping_net`` / ``editing_net``; JSON
works too, and a ``config`` sub-object is unwrapped) may add what weights cannot tell: ``image_size``
(an int or ``[h, w]`` with h == w, default 256) and ``semantic_radius`` (default 13); any size it names
must agree with the weights.

The official demo loads with ``strict=False``, which would silently keep random weights for every missing
key and ignore every unexpected one. This loader refuses both, naming the keys, with one exception: the
``conv1``/``norm1`` weights of the editing net's residual blocks may be absent, because the official
forward pass overwrites that branch (they cannot change a frame).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from core.checkpoints import check_state_dict, load_weights_file, shapes_of, tensor_entry
from core.errors import InputError, ModelFormatError, ModelMissingError
from core.model_files import RENDERER
from core.render.config_file import read_model_config
from core.render.model import FaceGenerator, RendererConfig

CHECKPOINT_KEY = "net_G_ema"
DEAD_KEY = re.compile(r"^editing_net\.decoder\.res\d+\.res\d+\.(conv1|norm1)\.")


def _is_dead_key(key: str) -> bool:
    return DEAD_KEY.match(key) is not None


# official yaml (section, field) → RendererConfig field
_YAML_FIELDS: dict[tuple[str, str], str] = {
    ("common", "descriptor_nc"): "descriptor_nc",
    ("common", "image_nc"): "image_nc",
    ("common", "max_nc"): "max_nc",
    ("mapping_net", "coeff_nc"): "coeff_nc",
    ("mapping_net", "descriptor_nc"): "descriptor_nc",
    ("mapping_net", "layer"): "mapping_layers",
    ("warpping_net", "base_nc"): "warp_base_nc",
    ("warpping_net", "encoder_layer"): "warp_encoder_layers",
    ("warpping_net", "decoder_layer"): "warp_decoder_layers",
    ("editing_net", "base_nc"): "edit_base_nc",
    ("editing_net", "layer"): "edit_layers",
    ("editing_net", "num_res_blocks"): "edit_res_blocks",
}


def _count(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return len(ids)


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    try:
        return tuple(state[key].shape)
    except KeyError:
        raise ModelFormatError(f"not a PIRenderer state dict: key '{key}' is missing") from None


def config_from_state_dict(
    state: Mapping[str, torch.Tensor], overrides: Mapping[str, Any] | None = None
) -> RendererConfig:
    """Infer every layer size from the weights; ``overrides`` (a config-file dict) adds size and radius."""
    d, coeff_nc, _ = _shape(state, "mapping_net.first.0.weight")
    warp_base, image_nc, _, _ = _shape(state, "warpping_net.hourglass.encoder.input_layer.weight")
    edit_base = _shape(state, "editing_net.encoder.first.model.0.weight")[0]
    hidden = _shape(state, "warpping_net.hourglass.encoder.encoder0.norm_0.mlp_shared.0.weight")[0]
    warp_enc = _count(state, "warpping_net.hourglass.encoder.encoder")
    edit_layers = _count(state, "editing_net.encoder.down")
    warp_deep = _shape(state, f"warpping_net.hourglass.encoder.encoder{warp_enc - 1}.conv_0.weight")[0]
    edit_deep = _shape(state, f"editing_net.encoder.down{edit_layers - 1}.model.0.weight")[0]
    # max_nc caps every level's width; an uncapped net only bounds it from below.
    if warp_deep < warp_base * 2**warp_enc:
        max_nc = warp_deep
    elif edit_deep < edit_base * 2**edit_layers:
        max_nc = edit_deep
    else:
        max_nc = max(warp_deep, edit_deep)
    cfg = RendererConfig(
        coeff_nc=coeff_nc,
        descriptor_nc=d,
        mapping_layers=_count(state, "mapping_net.encoder"),
        image_nc=image_nc,
        max_nc=max_nc,
        warp_base_nc=warp_base,
        warp_encoder_layers=warp_enc,
        warp_decoder_layers=_count(state, "warpping_net.hourglass.decoder.decoder"),
        edit_base_nc=edit_base,
        edit_layers=edit_layers,
        edit_res_blocks=_count(state, "editing_net.decoder.res0.res"),
        adain_hidden=hidden,
    )
    return apply_overrides(cfg, overrides or {})


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(f"renderer config: {what} must be a whole number, got {value!r}")
    return int(value)


def apply_overrides(cfg: RendererConfig, data: Mapping[str, Any]) -> RendererConfig:
    """Check the config file's sizes against ``cfg`` and take its image size and window radius."""
    body = data["config"] if isinstance(data.get("config"), Mapping) else data
    extra = {k: v for src in (body, data) for k, v in src.items() if k in ("image_size", "semantic_radius")}
    for (section, name), field_name in _YAML_FIELDS.items():
        part = body.get(section) or {}
        value = part.get(name) if isinstance(part, Mapping) else None
        if value is not None and _int(value, f"{section}.{name}") != getattr(cfg, field_name):
            raise ModelFormatError(
                f"renderer config says {section}.{name} = {value}, the weights have {getattr(cfg, field_name)}"
            )
    if (body.get("common") or {}).get("use_spect"):
        raise ModelFormatError("renderer config sets use_spect; only the released use_spect: false is supported")
    changes: dict[str, int] = {}
    if "image_size" in extra:
        size = extra["image_size"]
        if isinstance(size, list | tuple):
            if len(size) != 2 or _int(size[0], "image_size") != _int(size[1], "image_size"):
                raise InputError(f"renderer config: image_size must be square, got {size}")
            size = size[0]
        changes["image_size"] = _int(size, "image_size")
    if "semantic_radius" in extra:
        changes["semantic_radius"] = _int(extra["semantic_radius"], "semantic_radius")
    cfg = replace(cfg, **changes)
    if cfg.image_size < 2 * cfg.size_multiple or cfg.image_size % cfg.size_multiple:
        raise InputError(
            f"renderer image_size must be a multiple of {cfg.size_multiple} and at least "
            f"{2 * cfg.size_multiple}, got {cfg.image_size}"
        )
    if cfg.window < 7 + 6 * cfg.mapping_layers:
        raise InputError(f"semantic_radius {cfg.semantic_radius} is too small for the mapping net")
    return cfg


def load_renderer(
    checkpoint: str | Path, model_config: str | Path | None = None, device: str | torch.device = "cpu"
) -> FaceGenerator:
    """Build the renderer from the checkpoint's shapes, load every key strictly, in eval mode."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ModelMissingError(RENDERER.missing_message(checkpoint))
    overrides = read_model_config(model_config)
    # the training checkpoint's other entries (net_G, net_D, optimizers, a pickled config) are ignored
    ckpt = load_weights_file(checkpoint, "renderer checkpoint")
    state = tensor_entry(ckpt, CHECKPOINT_KEY, checkpoint, "PIRenderer checkpoint")
    cfg = config_from_state_dict(state, overrides)
    net = FaceGenerator(cfg)
    check_state_dict(shapes_of(net), state, checkpoint.name, "PIRenderer", optional=_is_dead_key)
    net.load_state_dict(state, strict=False)  # every live key was checked above; dead keys may be absent
    return net.to(device).eval()
