"""Test helper: SadTalker's ``audio2exp.`` / ``audio2pose.`` key layout, written out independently of core/.

The names and shapes follow the public SadTalker modules (facts, not code): ``SimpleWrapperV2``
(``audio_encoder`` = 13 Wav2Lip ``Conv2d`` blocks of ``conv_block.{0: Conv2d, 1: BatchNorm2d}``, then
``mapping1``) and ``Audio2Pose`` (``audio_encoder.audio_encoder`` likewise; ``netG.encoder`` and
``netG.decoder``: a ``ResUnet``, an ``MLP`` of ``L<i>`` Linears, ``linear_audio``, ``classbias``, and
``linear_means``/``linear_logvar`` or ``pose_linear``; ``netD_motion.seq``: three Conv1d+BatchNorm1d
blocks and a final Conv1d). Weights are drawn from numpy's PCG64, so a seed gives the same file anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file


@dataclass(frozen=True)
class Sizes:
    """Release sizes by default; ``SMALL`` below keeps every structural fact (32-frame windows, 46 styles)."""

    widths: tuple[int, int, int, int, int] = (32, 64, 128, 256, 512)
    unet: tuple[int, int, int, int] = (32, 64, 128, 256)
    seq_len: int = 32
    latent: int = 64
    audio_out: int = 6
    classes: int = 46
    dec_hidden: int = 128
    enc_hidden: int = 128
    disc: tuple[int, int, int] = (256, 512, 1024)


SMALL = Sizes(widths=(4, 4, 8, 8, 16), unet=(2, 4, 4, 8), latent=8, dec_hidden=16, enc_hidden=8, disc=(4, 4, 8))

Layout = dict[str, tuple[int, ...]]


def _bn(p: str, c: int) -> Layout:
    return {f"{p}.weight": (c,), f"{p}.bias": (c,), f"{p}.running_mean": (c,), f"{p}.running_var": (c,),
            f"{p}.num_batches_tracked": ()}  # fmt: skip


def _conv(p: str, cin: int, cout: int, k: int) -> Layout:
    return {f"{p}.weight": (cout, cin, k, k), f"{p}.bias": (cout,)}


def _linear(p: str, cin: int, cout: int) -> Layout:
    return {f"{p}.weight": (cout, cin), f"{p}.bias": (cout,)}


def wav2lip_encoder(p: str, w: tuple[int, ...]) -> Layout:
    blocks = [(1, w[0], 3), (w[0], w[0], 3), (w[0], w[0], 3), (w[0], w[1], 3), (w[1], w[1], 3),
              (w[1], w[1], 3), (w[1], w[2], 3), (w[2], w[2], 3), (w[2], w[2], 3), (w[2], w[3], 3),
              (w[3], w[3], 3), (w[3], w[4], 3), (w[4], w[4], 1)]  # fmt: skip
    out: Layout = {}
    for i, (cin, cout, k) in enumerate(blocks):
        out |= _conv(f"{p}.{i}.conv_block.0", cin, cout, k) | _bn(f"{p}.{i}.conv_block.1", cout)
    return out


def _residual_conv(p: str, cin: int, cout: int) -> Layout:
    return (
        _bn(f"{p}.conv_block.0", cin)
        | _conv(f"{p}.conv_block.2", cin, cout, 3)
        | _bn(f"{p}.conv_block.3", cout)
        | _conv(f"{p}.conv_block.5", cout, cout, 3)
        | _conv(f"{p}.conv_skip.0", cin, cout, 3)
        | _bn(f"{p}.conv_skip.1", cout)
    )


def res_unet(p: str, f: tuple[int, int, int, int]) -> Layout:
    out = _conv(f"{p}.input_layer.0", 1, f[0], 3) | _bn(f"{p}.input_layer.1", f[0])
    out |= _conv(f"{p}.input_layer.3", f[0], f[0], 3) | _conv(f"{p}.input_skip.0", 1, f[0], 3)
    out |= _residual_conv(f"{p}.residual_conv_1", f[0], f[1]) | _residual_conv(f"{p}.residual_conv_2", f[1], f[2])
    out |= _residual_conv(f"{p}.bridge", f[2], f[3])
    for i, (c, skip, to) in enumerate([(f[3], f[2], f[2]), (f[2], f[1], f[1]), (f[1], f[0], f[0])], start=1):
        out |= {f"{p}.upsample_{i}.upsample.weight": (c, c, 2, 1), f"{p}.upsample_{i}.upsample.bias": (c,)}
        out |= _residual_conv(f"{p}.up_residual_conv{i}", c + skip, to)
    return out | {f"{p}.output_layer.0.weight": (1, f[0], 1, 1), f"{p}.output_layer.0.bias": (1,)}


def audio2exp_layout(s: Sizes = Sizes()) -> Layout:
    return wav2lip_encoder("audio_encoder", s.widths) | _linear("mapping1", s.widths[-1] + 64 + 1, 64)


def audio2pose_layout(s: Sizes = Sizes()) -> Layout:
    audio = s.seq_len * s.audio_out
    out = wav2lip_encoder("audio_encoder.audio_encoder", s.widths)
    for part in ("encoder", "decoder"):
        p = f"netG.{part}"
        out |= res_unet(f"{p}.resunet", s.unet)
        out |= _linear(f"{p}.linear_audio", s.widths[-1], s.audio_out) | {f"{p}.classbias": (s.classes, s.latent)}
    out |= _linear("netG.encoder.MLP.L0", 6 + s.seq_len * 6 + audio + s.latent, s.enc_hidden)
    out |= _linear("netG.encoder.linear_means", s.enc_hidden, s.latent)
    out |= _linear("netG.encoder.linear_logvar", s.enc_hidden, s.latent)
    out |= _linear("netG.decoder.MLP.L0", 6 + s.latent + audio, s.dec_hidden)
    out |= _linear("netG.decoder.MLP.L1", s.dec_hidden, s.seq_len * 6) | _linear("netG.decoder.pose_linear", 6, 6)
    cin = 6
    for i, (cout, k) in enumerate(zip(s.disc, (4, 4, 3), strict=True)):
        out |= {f"netD_motion.seq.{i}.conv.weight": (cout, cin, k)} | _bn(f"netD_motion.seq.{i}.norm", cout)
        cin = cout
    return out | {"netD_motion.seq.3.weight": (1, cin, 3), "netD_motion.seq.3.bias": (1,)}


def random_tensors(layout: Layout, seed: int) -> dict[str, torch.Tensor]:
    """Weights ~ N(0, 1/fan_in), small biases, BatchNorm statistics near (0, 1), counters 0."""
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for name in sorted(layout):
        shape = layout[name]
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(0, dtype=torch.int64)
            continue
        if name.endswith("running_var"):
            x = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("classbias"):
            x = rng.standard_normal(shape)
        elif len(shape) > 1:
            fan_in = int(np.prod(shape[1:])) if "upsample" not in name else shape[0] * int(np.prod(shape[2:]))
            x = rng.standard_normal(shape) / np.sqrt(fan_in)
        else:
            x = rng.normal(1.0 if _is_bn_weight(name, layout) else 0.0, 0.1, shape)
        out[name] = torch.from_numpy(x.astype(np.float32))
    return out


def _is_bn_weight(name: str, layout: Layout) -> bool:
    return name.endswith(".weight") and name[: -len("weight")] + "running_var" in layout


def write_weights(
    path: Path,
    sizes: Sizes = SMALL,
    seed: int = 0,
    *,
    exp: bool = True,
    pose: bool = True,
    renderer: bool = True,
) -> Path:
    """A SadTalker release-style safetensors file: ``audio2exp.``, ``audio2pose.`` and renderer tensors."""
    tensors: dict[str, torch.Tensor] = {}
    if exp:
        tensors |= {f"audio2exp.{k}": v for k, v in random_tensors(audio2exp_layout(sizes), seed).items()}
    if pose:
        tensors |= {f"audio2pose.{k}": v for k, v in random_tensors(audio2pose_layout(sizes), seed + 1).items()}
    if renderer:  # stands in for the rest of the release file, which must be ignored
        tensors |= {"generator.first.conv.weight": torch.ones(2, 3), "kp_extractor.fc.bias": torch.zeros(4)}
    save_file(tensors, str(path))
    return path
