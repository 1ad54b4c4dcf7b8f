"""StyleTalk's networks (content encoder, style encoder, style-controllable dynamic decoder).

Module and parameter names follow the official checkpoint so it loads unchanged. The computation is
the official one, reorganised to be lean:

* a dynamic linear layer mixes its K kernels once per *style* (the style code is shared by every
  frame of a clip) instead of materialising a kernel per frame;
* only the centre position of each 11-frame window is decoded in the last decoder layer, as only that
  position is read out;
* frames are processed in chunks, so memory does not grow with clip length.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.engines.styletalk.config import StyleTalkConfig


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """Entry [p, j] = p / 10000^(2·floor(j/2)/dim); sin on even, cos on odd columns; float64 → float32."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    j = np.arange(dim)[None, :]
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.from_numpy(table[None].astype(np.float32))


class PositionTable(nn.Module):
    pos_table: torch.Tensor  # a buffer

    def __init__(self, length: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("pos_table", sinusoid_table(length, dim))

    def forward(self, length: int) -> torch.Tensor:
        """(length, 1, dim), sequence-first."""
        return self.pos_table[0, :length, None, :]


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer with ReLU (sequence-first tensors)."""

    def __init__(self, d: int, nhead: int, ff: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, nhead)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0])
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class Encoder(nn.Module):
    def __init__(self, d: int, nhead: int, ff: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d, nhead, ff) for _ in range(layers))

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, key_padding_mask)
        return x


class ContentEncoder(nn.Module):
    """Phoneme windows (N, W) → content features (W, N, C)."""

    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        self.ph_embedding = nn.Embedding(cfg.vocab, cfg.ph_embed_dim)
        self.increase_embed_dim = nn.Linear(cfg.ph_embed_dim, cfg.d_model)
        self.pos_embed = PositionTable(cfg.window, cfg.d_model)
        self.encoder = Encoder(cfg.d_model, cfg.nhead, cfg.dim_feedforward, cfg.content_layers)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = self.increase_embed_dim(self.ph_embedding(windows)).transpose(0, 1)
        return self.encoder(x + self.pos_embed(x.shape[0]))


class SelfAttentionPooling(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.W = nn.Sequential(nn.Linear(d, d), nn.Mish(), nn.Linear(d, 1))

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, L, C), pad_mask (B, L) True = padding → (B, C)."""
        logits = self.W(x).squeeze(-1)
        if pad_mask is not None:
            logits = pad_mask.to(x.dtype) * -100000.0 + logits
        return torch.sum(x * torch.softmax(logits, dim=-1).unsqueeze(-1), dim=1)


class StyleEncoder(nn.Module):
    """Style clip (B, L, 64) + padding mask → style code (B, C)."""

    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        self.increase_embed_dim = nn.Linear(cfg.exp_dim, cfg.d_model)
        self.pos_embed = PositionTable(cfg.style_max_len, cfg.d_model)
        self.encoder = Encoder(cfg.d_model, cfg.nhead, cfg.dim_feedforward, cfg.style_layers)
        self.aggregate_method = SelfAttentionPooling(cfg.d_model)

    def forward(self, clip: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.increase_embed_dim(clip).transpose(0, 1)
        x = self.encoder(x + self.pos_embed(x.shape[0]), pad_mask)
        return self.aggregate_method(x.transpose(0, 1), pad_mask)


class DynamicAttention(nn.Module):
    def __init__(self, d: int, ratio: int, k: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(d, d // ratio, 1, bias=False), nn.ReLU(), nn.Conv2d(d // ratio, k, 1, bias=False)
        )


class DynamicConv(nn.Module):
    """K 1×1 kernels mixed by softmax(net(style) / temperature)."""

    def __init__(self, d_in: int, d_out: int, d_style: int, k: int, ratio: int, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature
        self.weight = nn.Parameter(torch.empty(k, d_out, d_in, 1, 1))
        self.bias = nn.Parameter(torch.empty(k, d_out))
        self.attention = DynamicAttention(d_style, ratio, k)
        bound = 1 / math.sqrt(d_in)  # nn.Linear's default initialisation, per kernel
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def mixed(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-style kernel (B, out, in) and bias (B, out)."""
        b, k = style.shape[0], self.weight.shape[0]
        logits = self.attention.net(style.view(b, -1, 1, 1)).view(b, k)
        a = torch.softmax(logits / self.temperature, dim=-1)
        weight = torch.mm(a, self.weight.view(k, -1)).view(b, self.weight.shape[1], self.weight.shape[2])
        return weight, torch.mm(a, self.bias)


class DynamicLinear(nn.Module):
    def __init__(self, d_in: int, d_out: int, d_style: int, k: int, ratio: int, temperature: float) -> None:
        super().__init__()
        self.dynamic_conv = DynamicConv(d_in, d_out, d_style, k, ratio, temperature)

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x (L, B, N, in) with one kernel per B → (L, B, N, out)."""
        return torch.einsum("lbni,boi->lbno", x, weight) + bias[None, :, None, :]


class DecoderLayer(nn.Module):
    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.self_attn = nn.MultiheadAttention(d, cfg.nhead)
        self.multihead_attn = nn.MultiheadAttention(d, cfg.nhead)
        self.linear1 = DynamicLinear(d, cfg.dim_feedforward, d, cfg.dynamic_k, cfg.dynamic_ratio, cfg.temperature)
        self.linear2 = nn.Linear(cfg.dim_feedforward, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)

    def self_block(self, tgt: torch.Tensor, query_index: int | None = None) -> torch.Tensor:
        """Self-attention + add & norm; with ``query_index`` only that position is computed."""
        q = tgt if query_index is None else tgt[query_index : query_index + 1]
        return self.norm1(q + self.self_attn(q, tgt, tgt, need_weights=False)[0])

    def cross_block(
        self, x: torch.Tensor, memory: torch.Tensor, kernel: tuple[torch.Tensor, torch.Tensor], batch: int
    ) -> torch.Tensor:
        """Cross-attention to the content, then the style-dynamic feed-forward (x, memory: (W, B·N, C))."""
        x = self.norm2(x + self.multihead_attn(x, memory, memory, need_weights=False)[0])
        length, bn, c = x.shape
        h = self.linear1(x.reshape(length, batch, bn // batch, c), *kernel).reshape(length, bn, -1)
        return self.norm3(x + self.linear2(F.relu(h)))


class DynamicDecoder(nn.Module):
    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, start: torch.Tensor, memory: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """start (W, B, C) per style, memory (W, B·N, C), style (B, C) → centre features (B·N, C).

        The first self-attention sees only position + style, so it runs once per style, not per frame.
        """
        batch = style.shape[0]
        frames = memory.shape[1] // batch
        centre = start.shape[0] // 2
        last = len(self.layers) - 1
        x = start
        for i, layer in enumerate(self.layers):
            assert isinstance(layer, DecoderLayer)
            x = layer.self_block(x, centre if i == last else None)
            if i == 0:
                x = x.repeat_interleave(frames, dim=1)
            x = layer.cross_block(x, memory, layer.linear1.dynamic_conv.mixed(style), batch)
        return self.norm(x)[0]


def _tail(d: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d, d // 2), nn.ReLU(), nn.Linear(d // 2, d // 2), nn.ReLU(), nn.Linear(d // 2, n_out)
    )


class DisentangleDecoder(nn.Module):
    """Upper- and lower-face branches, scattered into the expression vector."""

    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.upper_decoder = DynamicDecoder(cfg)
        self.lower_decoder = DynamicDecoder(cfg)
        self.pos_embed = PositionTable(cfg.window, cfg.d_model)
        self.upper_tail_fc = _tail(cfg.d_model, len(cfg.upper_indices))
        self.lower_tail_fc = _tail(cfg.d_model, len(cfg.lower_indices))

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """content (W, B·N, C) with frames grouped by batch item, style (B, C) → (B·N, exp_dim)."""
        w, bn = content.shape[:2]
        start = self.pos_embed(w) + style[None]
        upper = self.upper_tail_fc(self.upper_decoder(start, content, style))
        lower = self.lower_tail_fc(self.lower_decoder(start, content, style))
        out = content.new_zeros(bn, self.cfg.exp_dim)
        out[:, list(self.cfg.upper_indices)] = upper
        out[:, list(self.cfg.lower_indices)] = lower
        return out


class StyleTalkNet(nn.Module):
    def __init__(self, cfg: StyleTalkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.content_encoder = ContentEncoder(cfg)
        self.style_encoder = StyleEncoder(cfg)
        self.decoder = DisentangleDecoder(cfg)

    @torch.inference_mode()
    def forward(
        self,
        windows: torch.Tensor,
        style_clip: torch.Tensor,
        pad_mask: torch.Tensor | None = None,
        chunk: int = 256,
        on_chunk: Callable[[float], None] | None = None,
    ) -> torch.Tensor:
        """windows (B, N, W) phoneme ids, style_clip (B, L, 64) → expression (B, N, 64), in frame chunks.

        A frame's output depends only on its phoneme window and the style, so each distinct window
        (per batch item) is decoded once: silence and held phones cost nothing extra.
        """
        style = self.style_encoder(style_clip, pad_mask)
        outputs = []
        for b in range(windows.shape[0]):
            unique, inverse = torch.unique(windows[b], dim=0, return_inverse=True)
            parts = []
            for s in range(0, unique.shape[0], chunk):
                content = self.content_encoder(unique[s : s + chunk])
                parts.append(self.decoder(content, style[b : b + 1]))
                if on_chunk is not None:
                    on_chunk((b + min(s + chunk, unique.shape[0]) / unique.shape[0]) / windows.shape[0])
            outputs.append(torch.cat(parts)[inverse])
        return torch.stack(outputs)


def phoneme_windows(phonemes: np.ndarray, half_window: int, sil: int = 31) -> np.ndarray:
    """Row t holds the ids of frames t−h..t+h; positions outside the sequence are SIL."""
    seq = np.asarray(phonemes, dtype=np.int64)
    padded = np.concatenate([np.full(half_window, sil), seq, np.full(half_window, sil)])
    idx = np.arange(len(seq))[:, None] + np.arange(2 * half_window + 1)[None, :]
    return padded[idx]
