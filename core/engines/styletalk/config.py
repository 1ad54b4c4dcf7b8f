"""StyleTalk hyper-parameters: read from the state dict; a yacs-style JSON gives what weights cannot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InputError

if TYPE_CHECKING:
    import torch

# configs/default.py of the official release (upper/lower split of the 64 expression coefficients).
LOWER_INDICES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14)
UPPER_INDICES: tuple[int, ...] = tuple(i for i in range(64) if i not in LOWER_INDICES)


@dataclass(frozen=True)
class StyleTalkConfig:
    """Sizes of the three sub-networks. Defaults are the official release's."""

    d_model: int = 256
    nhead: int = 8
    dim_feedforward: int = 1024
    content_layers: int = 3
    style_layers: int = 3
    decoder_layers: int = 3
    ph_embed_dim: int = 128
    vocab: int = 41
    window: int = 11
    style_max_len: int = 256
    exp_dim: int = 64
    dynamic_k: int = 8
    dynamic_ratio: int = 4
    temperature: float = 30.0
    upper_indices: tuple[int, ...] = UPPER_INDICES
    lower_indices: tuple[int, ...] = LOWER_INDICES

    @property
    def half_window(self) -> int:
        return self.window // 2


def _count_layers(state: dict[str, torch.Tensor], prefix: str) -> int:
    ids = {int(k[len(prefix) :].split(".")[0]) for k in state if k.startswith(prefix)}
    return max(ids) + 1 if ids else 0


def config_from_state_dict(state: dict[str, torch.Tensor], overrides: dict | None = None) -> StyleTalkConfig:
    """Infer every size the weights carry; ``overrides`` (yacs field names) supplies the rest (nhead)."""
    try:
        emb = state["content_encoder.ph_embedding.weight"]
        pos_c = state["content_encoder.pos_embed.pos_table"]
        pos_s = state["style_encoder.pos_embed.pos_table"]
        lin1 = state["content_encoder.encoder.layers.0.linear1.weight"]
        dyn = state["decoder.upper_decoder.layers.0.linear1.dynamic_conv.weight"]
        att0 = state["decoder.upper_decoder.layers.0.linear1.dynamic_conv.attention.net.0.weight"]
        style_in = state["style_encoder.increase_embed_dim.weight"]
        upper_out = state["decoder.upper_tail_fc.4.weight"]
        lower_out = state["decoder.lower_tail_fc.4.weight"]
    except KeyError as exc:
        raise InputError(f"not a StyleTalk checkpoint: key {exc} is missing") from None
    o = overrides or {}
    d_model = int(pos_c.shape[-1])
    nhead = int(o.get("CONTENT_ENCODER", {}).get("nhead", 8))
    for section in ("STYLE_ENCODER", "DECODER"):
        if int(o.get(section, {}).get("nhead", nhead)) != nhead:
            raise InputError("StyleTalk configs with different head counts per sub-network are not supported")
    if d_model % nhead:
        raise InputError(f"d_model {d_model} is not divisible by nhead {nhead}; check --model-config")
    dec = o.get("DECODER", {})
    lower = tuple(int(i) for i in dec.get("lower_face3d_indices", LOWER_INDICES))
    upper = tuple(int(i) for i in dec.get("upper_face3d_indices", UPPER_INDICES))
    if len(upper) != upper_out.shape[0] or len(lower) != lower_out.shape[0]:
        raise InputError(
            f"checkpoint decodes {upper_out.shape[0]} upper / {lower_out.shape[0]} lower coefficients, "
            f"config lists {len(upper)} / {len(lower)}"
        )
    return StyleTalkConfig(
        d_model=d_model,
        nhead=nhead,
        dim_feedforward=int(lin1.shape[0]),
        content_layers=_count_layers(state, "content_encoder.encoder.layers."),
        style_layers=_count_layers(state, "style_encoder.encoder.layers."),
        decoder_layers=_count_layers(state, "decoder.upper_decoder.layers."),
        ph_embed_dim=int(emb.shape[1]),
        vocab=int(emb.shape[0]),
        window=int(pos_c.shape[1]),
        style_max_len=int(pos_s.shape[1]),
        exp_dim=int(style_in.shape[1]),
        dynamic_k=int(dyn.shape[0]),
        dynamic_ratio=d_model // int(att0.shape[0]),
        upper_indices=upper,
        lower_indices=lower,
    )


def read_overrides(path: str | Path | None) -> dict | None:
    """Read a yacs-field-name JSON (as in the reference fixture's ``styletalk_small_config.json``)."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model config not found: {p}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"model config {p.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"model config {p.name} must be a JSON object")
    return data
