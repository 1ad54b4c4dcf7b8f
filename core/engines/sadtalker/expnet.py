"""ExpNet (SadTalker's ``SimpleWrapperV2``): Wav2Lip audio encoder → 512, + reference expression + blink.

Module names match the official state dict (``audio_encoder.<i>.conv_block.{0,1}``, ``mapping1``), so an
official ``audio2exp.`` block loads as is. Encoder widths are read from the weights (the release uses
32, 64, 128, 256, 512); the strides fix a (1, 80, 16) mel window to a 1×1 map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ENCODER_WIDTHS: tuple[int, int, int, int, int] = (32, 64, 128, 256, 512)
EXP_DIM = 64
CHUNK = 256  # frames encoded at once: bounds the activation memory of long clips
# (stage width index, stride, residual) for the 3×3 convolutions of Wav2Lip's audio encoder; a final
# 1×1 convolution at the last width follows. Stage boundaries are where the width changes.
_LAYOUT: tuple[tuple[int, tuple[int, int], bool], ...] = (
    (0, (1, 1), False),
    (0, (1, 1), True),
    (0, (1, 1), True),
    (1, (3, 1), False),
    (1, (1, 1), True),
    (1, (1, 1), True),
    (2, (3, 3), False),
    (2, (1, 1), True),
    (2, (1, 1), True),
    (3, (3, 2), False),
    (3, (1, 1), True),
    (4, (1, 1), False),  # 3×3 without padding: 3×3 map → 1×1
)


class ConvBN(nn.Module):
    """Conv2d + BatchNorm2d (+ input when residual), then ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: tuple[int, int], padding: int, residual: bool):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return torch.relu(out + x if self.residual else out)


def audio_encoder(widths: tuple[int, ...] = ENCODER_WIDTHS) -> nn.Sequential:
    """Wav2Lip's audio encoder: (N, 1, 80, 16) mel windows → (N, widths[-1], 1, 1)."""
    layers: list[nn.Module] = []
    cin = 1
    for stage, stride, residual in _LAYOUT:
        cout = widths[stage]
        padding = 0 if stage == len(widths) - 1 else 1
        layers.append(ConvBN(cin, cout, 3, stride, padding, residual))
        cin = cout
    layers.append(ConvBN(cin, cin, 1, (1, 1), 0, False))
    return nn.Sequential(*layers)


def encode(encoder: nn.Sequential, mels: torch.Tensor) -> torch.Tensor:
    """(N, 1, 80, 16) → (N, width) through ``encoder``, ``CHUNK`` frames at a time."""
    return torch.cat([encoder(part).flatten(1) for part in mels.split(CHUNK)]) if len(mels) else mels.new_zeros(0, 0)


def encoder_widths(state: dict[str, torch.Tensor], prefix: str) -> tuple[int, ...]:
    """The five stage widths of an audio encoder stored under ``prefix`` (``...audio_encoder.``)."""
    firsts = [i for i, (stage, _, _) in enumerate(_LAYOUT) if i == 0 or _LAYOUT[i - 1][0] != stage]
    return tuple(int(state[f"{prefix}{i}.conv_block.0.weight"].shape[0]) for i in firsts)


@dataclass(frozen=True)
class ExpNetDims:
    encoder_widths: tuple[int, ...] = ENCODER_WIDTHS
    exp_dim: int = EXP_DIM


class ExpNet(nn.Module):
    """Mel window + reference expression (64) + blink ratio (1) → 64 expression coefficients per frame."""

    def __init__(self, dims: ExpNetDims = ExpNetDims()):
        super().__init__()
        self.dims = dims
        self.audio_encoder = audio_encoder(dims.encoder_widths)
        self.mapping1 = nn.Linear(dims.encoder_widths[-1] + dims.exp_dim + 1, dims.exp_dim)

    def forward(self, mels: torch.Tensor, ref: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """(N, 1, 80, 16), (N, 64), (N, 1) → (N, 64)."""
        audio = encode(self.audio_encoder, mels)
        return self.mapping1(torch.cat([audio, ref, ratio], dim=1))


def expnet_dims(state: dict[str, torch.Tensor]) -> ExpNetDims:
    """Sizes of an ExpNet from its (prefix-stripped) state dict."""
    return ExpNetDims(
        encoder_widths=encoder_widths(state, "audio_encoder."),
        exp_dim=int(state["mapping1.weight"].shape[0]),
    )
