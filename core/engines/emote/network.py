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

# Upstream builds both attention biases as fixed 1200 x 1200 tables and crops them; longer
# sequences cannot be run in one pass (the windowing in ``windows.py`` stays under this).
MAX_BIAS_FRAMES = 1200


def alibi_slopes(nhead: int) -> list[float]:
    """ALiBi head slopes 2^(-8(h+1)/n) (with the usual interleave for non-powers of two)."""
    if math.log2(nhead).is_integer():
        start = 2.0 ** (-8.0 / nhead)
        return [start ** (h + 1) for h in range(nhead)]
    closest = 2 ** math.floor(math.log2(nhead))
    return alibi_slopes(closest) + alibi_slopes(2 * closest)[0::2][: nhead - closest]


def temporal_bias(kind: str, nhead: int, length: int, period: int = 30) -> torch.Tensor | None:
    """Additive attention bias (nhead, T, T): ``faceformer_future`` −s·⌊|i−j|/period⌋, ``alibi_future`` −s·|i−j|."""
    if kind == "none":
        return None
    if length > MAX_BIAS_FRAMES:
        raise ValueError(f"{length} frames exceed the {MAX_BIAS_FRAMES}-frame attention bias")
    pos = torch.arange(length)
    dist = (pos[None, :] - pos[:, None]).abs()
    if kind == "faceformer_future":
        dist = torch.div(dist, period, rounding_mode="floor")
    elif kind != "alibi_future":
        raise ModelFormatError(f"temporal bias '{kind}' is not supported")
    slopes = torch.tensor(alibi_slopes(nhead), dtype=torch.float32)
    return -slopes[:, None, None] * dist[None].to(torch.float32)


class TransformerStack(nn.Module):
    """Post-norm ``nn.TransformerEncoderLayer`` stack (keys ``layers.N.*`` as in ``nn.TransformerEncoder``)."""

    def __init__(self, dim: int, nhead: int, ff_dim: int, num_layers: int, activation: str = "gelu") -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, nhead, dim_feedforward=ff_dim, dropout=0.0, activation=activation, batch_first=True
            )
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        mask = None
        if bias is not None:  # (nhead, T, T) → (B·nhead, T, T), batch-major
            mask = bias.to(x.device, x.dtype).repeat(x.shape[0], 1, 1)
        # the temporal biases are additive (DESIGN §4): torch's inference fast path would turn them into a
        # boolean mask, so it is off while these layers run (the switch is process-wide: restored after)
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            for layer in self.layers:
                x = layer(x, src_mask=mask)
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)
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
        bias = temporal_bias(self.cfg.temporal_bias, self.cfg.nhead, x.shape[1])
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
            bias = temporal_bias(self.cfg.temporal_bias, self.cfg.bert_nhead, t, self.cfg.period)
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
        if num_frames > MAX_BIAS_FRAMES:
            raise ValueError(f"one pass takes at most {MAX_BIAS_FRAMES} frames, got {num_frames}")
        audio = self.audio_model(input_values, num_frames)
        seq = self.sequence_encoder(audio)
        if keep is not None:
            keep.update(audio_feature=audio, seq_encoder_output=seq)
        return self.sequence_decoder(seq, condition, keep)
