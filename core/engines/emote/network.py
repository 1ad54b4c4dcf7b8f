"""The EMOTE network in our own modules, named so that the official state dict loads unchanged.

audio (wav2vec2, conv features resampled 50 → 25 fps before the feature projection) → linear sequence
encoder → [audio ‖ Linear(condition)] → transformer with the FaceFormer "future" bias → Linear →
stack-linear squash by 8 → FLINT motion decoder → 100 (or 50) FLAME expression + 3 jaw axis-angle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Wav2Vec2Config, Wav2Vec2Model

from core.engines.emote.config import EmoteConfig, FlintConfig
from core.errors import ModelFormatError


def alibi_slopes(nhead: int) -> list[float]:
    """ALiBi head slopes 2^(-8(h+1)/n) (with the usual interleave for non-powers of two)."""
    if math.log2(nhead).is_integer():
        start = 2.0 ** (-8.0 / nhead)
        return [start ** (h + 1) for h in range(nhead)]
    closest = 2 ** math.floor(math.log2(nhead))
    return alibi_slopes(closest) + alibi_slopes(2 * closest)[0::2][: nhead - closest]


def temporal_bias(
    kind: str, nhead: int, length: int, period: int = 30, device: torch.device | None = None
) -> torch.Tensor | None:
    """Additive attention bias (nhead, T, T): ``faceformer_future`` −s·⌊|i−j|/period⌋, ``alibi_future`` −s·|i−j|.

    Upstream stores these as fixed 1200-frame tables and crops them; they are formulas, so any
    length is computed directly (equal to the crop up to 1200 frames).
    """
    if kind == "none":
        return None
    pos = torch.arange(length, device=device)
    dist = (pos[None, :] - pos[:, None]).abs()
    if kind == "faceformer_future":
        dist = torch.div(dist, period, rounding_mode="floor")
    elif kind != "alibi_future":
        raise ModelFormatError(f"temporal bias '{kind}' is not supported")
    slopes = torch.tensor(alibi_slopes(nhead), dtype=torch.float32, device=device)
    return -slopes[:, None, None] * dist[None].to(torch.float32)


class BiasedSelfAttention(nn.Module):
    """Multi-head self-attention that adds a float bias to the logits: softmax(QKᵀ/√d + bias)V.

    Parameter names match ``nn.MultiheadAttention`` (packed ``in_proj_weight`` q, k, v; ``out_proj``).
    ``nn.TransformerEncoderLayer`` cannot be used: on torch 2.x its eval/no-grad fast path turns a
    float mask into a boolean one, masking every non-zero bias entry instead of adding it.
    """

    def __init__(self, dim: int, nhead: int) -> None:
        super().__init__()
        if dim % nhead:
            raise ModelFormatError(f"attention width {dim} is not divisible by {nhead} heads")
        self.nhead = nhead
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)  # as nn.MultiheadAttention (a model built without weights)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """(B, T, D) and a (nhead, T, T) additive bias (or None) → (B, T, D)."""
        b, t, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (y.view(b, t, self.nhead, d // self.nhead).transpose(1, 2) for y in (q, k, v))
        mask = None if bias is None else bias.to(x.device, x.dtype)[None]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class BiasedEncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (``nn.TransformerEncoderLayer`` keys) with additive attention bias."""

    def __init__(self, dim: int, nhead: int, ff_dim: int, activation: str) -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ModelFormatError(f"transformer activation '{activation}' is not supported")
        self.self_attn = BiasedSelfAttention(dim, nhead)
        self.linear1 = nn.Linear(dim, ff_dim)
        self.linear2 = nn.Linear(ff_dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.activation = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(x + self.self_attn(x, bias))
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))


class TransformerStack(nn.Module):
    """Stack of ``BiasedEncoderLayer`` (keys ``layers.N.*`` as in ``nn.TransformerEncoder``)."""

    def __init__(self, dim: int, nhead: int, ff_dim: int, num_layers: int, activation: str = "gelu") -> None:
        super().__init__()
        self.layers = nn.ModuleList(BiasedEncoderLayer(dim, nhead, ff_dim, activation) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """(B, T, D) with one (nhead, T, T) bias shared by every batch item and layer."""
        for layer in self.layers:
            x = layer(x, bias)
        return x


class ResampledWav2Vec2(nn.Module):
    """wav2vec2 whose conv features are linearly resampled to the 25 fps frame count before projection."""

    def __init__(self, config_kwargs: dict) -> None:
        super().__init__()
        config = Wav2Vec2Config(**config_kwargs)
        config._attn_implementation = "sdpa"
        self.model = Wav2Vec2Model(config)

    def forward(self, input_values: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, N) normalised samples → (B, num_frames, hidden)."""
        feats = self.model.feature_extractor(input_values)  # (B, C, T50)
        feats = F.interpolate(feats, size=num_frames, mode="linear", align_corners=True)
        hidden, _ = self.model.feature_projection(feats.transpose(1, 2))
        return self.model.encoder(hidden).last_hidden_state


class LinearSequenceEncoder(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class LinearCondition(nn.Module):
    """[emotion ‖ intensity ‖ identity] (per frame, possibly blended) → Linear."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool) -> None:
        super().__init__()
        self.map = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.map(condition)


class StackLinearSquash(nn.Module):
    """(B, T, F) → (B, T/k, k·F) (earliest frame first) → Linear."""

    def __init__(self, dim: int, factor: int, out_dim: int) -> None:
        super().__init__()
        self.factor = factor
        self.linear = nn.Linear(dim * factor, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, f = x.shape
        return self.linear(x.reshape(b, t // self.factor, f * self.factor))


class FlintDecoder(nn.Module):
    """FLINT's decoder: ×8 temporal expander, transformer (ALiBi future bias), linear, smoothing conv."""

    def __init__(self, cfg: FlintConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d_in, d = cfg.input_dim, cfg.feature_dim
        blocks = [
            nn.Sequential(
                nn.ConvTranspose1d(d_in, d_in, 5, stride=2, padding=2, output_padding=1),
                nn.LeakyReLU(0.2),
                nn.BatchNorm1d(d_in),
            )
        ]
        blocks += [
            nn.Sequential(
                nn.Conv1d(d_in, d_in, 5, padding=2, padding_mode="replicate"),
                nn.LeakyReLU(0.2),
                nn.BatchNorm1d(d_in),
            )
            for _ in range(cfg.quant_factor - 1)
        ]
        self.expander = nn.ModuleList(blocks)
        self.decoder_linear_embedding = nn.Linear(d_in, d)
        self.decoder_transformer = TransformerStack(d, cfg.nhead, cfg.ff_dim, cfg.num_layers, cfg.activation)
        self.post_transformer_linear = nn.Linear(d, d)
        self.cross_smooth_layer = nn.Conv1d(d, cfg.output_dim, 5, padding=2)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, T/8, F) latent frames → (B, T, output_dim)."""
        x = latent.transpose(1, 2)
        for i, block in enumerate(self.expander):
            x = block(x)
            if i > 0:
                x = x.repeat_interleave(2, dim=2)
        x = self.decoder_linear_embedding(x.transpose(1, 2))
        bias = temporal_bias(self.cfg.temporal_bias, self.cfg.nhead, x.shape[1], device=x.device)
        x = self.post_transformer_linear(self.decoder_transformer(x, bias))
        return self.cross_smooth_layer(x.transpose(1, 2)).transpose(1, 2)


class MotionPrior(nn.Module):
    def __init__(self, cfg: FlintConfig) -> None:
        super().__init__()
        self.motion_decoder = FlintDecoder(cfg)


class BertPriorDecoder(nn.Module):
    """Condition, transformer, projection to the prior's latent, squash, FLINT decode, trim."""

    def __init__(self, cfg: EmoteConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.model_dim
        self.obj_vector = LinearCondition(cfg.condition_dim, cfg.seq_dim, cfg.condition_bias)
        self.bert_decoder = TransformerStack(d, cfg.bert_nhead, cfg.bert_ff, cfg.bert_layers, cfg.bert_activation)
        self.decoder = nn.Linear(d, cfg.bottleneck_dim)
        factor = cfg.flint.latent_frame_size
        self.squasher_2 = StackLinearSquash(cfg.bottleneck_dim, factor, cfg.bottleneck_dim)
        self.motion_prior = MotionPrior(cfg.flint)

    def forward(self, seq: torch.Tensor, condition: torch.Tensor, keep: dict | None = None) -> torch.Tensor:
        """(B, T, seq_dim) audio features + (B, T, condition_dim) → (B, T, exp + 3)."""
        style = self.obj_vector(condition)
        styled = torch.cat([seq, style], dim=-1) if self.cfg.style_op == "cat" else seq + style
        t = styled.shape[1]
        hidden = styled
        if self.cfg.bert_layers:
            bias = temporal_bias(self.cfg.temporal_bias, self.cfg.bert_nhead, t, self.cfg.period, styled.device)
            hidden = self.bert_decoder(styled, bias)
        # Upstream's post_bug_fix=False feeds the transformer's *input* to the projection.
        latent = self.decoder(hidden if self.cfg.post_bug_fix else styled)
        factor = self.squasher_2.factor
        padded = -(-t // factor) * factor
        latent = F.pad(latent, (0, 0, 0, padded - t))
        prior_input = self.squasher_2(latent)
        out = self.motion_prior.motion_decoder(prior_input)[:, :t]
        if keep is not None:
            keep.update(styled_hidden=styled, decoder_latent=latent[:, :t], prior_input_sequence=prior_input)
        return out


class EmoteNetwork(nn.Module):
    """The whole model; attribute names match the official checkpoint's key prefixes."""

    def __init__(self, cfg: EmoteConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio_model = ResampledWav2Vec2(cfg.wav2vec2)
        self.sequence_encoder = LinearSequenceEncoder(cfg.audio_dim, cfg.seq_dim)
        self.sequence_decoder = BertPriorDecoder(cfg)

    def forward(self, input_values: torch.Tensor, condition: torch.Tensor, keep: dict | None = None) -> torch.Tensor:
        """(B, T·640) normalised audio + (B, T, condition_dim) → (B, T, exp + 3)."""
        num_frames = condition.shape[1]
        audio = self.audio_model(input_values, num_frames)
        seq = self.sequence_encoder(audio)
        if keep is not None:
            keep.update(audio_feature=audio, seq_encoder_output=seq)
        return self.sequence_decoder(seq, condition, keep)
