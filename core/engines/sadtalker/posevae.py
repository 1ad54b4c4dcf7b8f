"""PoseVAE (SadTalker's ``Audio2Pose``): audio + pose style + a random latent → 6-dim head pose per frame.

Only what inference uses is built: the audio encoder (``audio_encoder.audio_encoder.*``) and the CVAE
decoder (``netG.decoder.*``). The decoder maps [first-frame pose (6), latent + style bias, per-frame audio
embedding (seq_len × audio_out)] through an MLP ending in a sigmoid to a (seq_len, 6) map, refines it
with a small residual U-Net over time and a final Linear(6, 6): the motion relative to the first frame.
A clip is covered by consecutive 32-frame windows (a last, partial window reuses the clip's last 32
frames and keeps its tail), one latent per window from the seeded generator, then Savitzky–Golay
smoothing (window 13, order 2) as ``test_audio2coeff.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import savgol_filter
from torch import nn

from core.engines.sadtalker.expnet import ENCODER_WIDTHS, audio_encoder, encode, encoder_widths
from core.errors import InputError
from core.head_motion import POSE_STYLES, parse_pose_style

POSE_DIM = 6  # 3 angles (radians, Deep3DFaceRecon's x, y, z) + 3 translations
SMOOTH_WINDOW = 13
SMOOTH_ORDER = 2
MIN_FRAMES = SMOOTH_ORDER + 1  # the smallest clip the smoothing can fit


@dataclass(frozen=True)
class PoseVAEDims:
    """Sizes of ``auido2pose.yaml`` (the release): 46 styles, 32-frame windows, latent 64, audio 512 → 6."""

    encoder_widths: tuple[int, ...] = ENCODER_WIDTHS
    num_classes: int = POSE_STYLES
    seq_len: int = 32
    latent: int = 64
    audio_out: int = 6
    decoder_hidden: tuple[int, ...] = (128,)
    unet_filters: tuple[int, int, int, int] = (32, 64, 128, 256)
    encoder_hidden: tuple[int, ...] = (128,)  # training-only CVAE encoder, checked at load time
    discriminator_widths: tuple[int, int, int] = (256, 512, 1024)  # training-only, checked at load time

    @property
    def decoder_in(self) -> int:
        return POSE_DIM + self.latent + self.seq_len * self.audio_out


class ResidualConv(nn.Module):
    """Pre-activation residual block: BN-ReLU-Conv-BN-ReLU-Conv plus a Conv-BN skip."""

    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int]):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cout, 3, stride, 1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1),
        )
        self.conv_skip = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x) + self.conv_skip(x)


class Upsample(nn.Module):
    """Transposed (2, 1) convolution: doubles the time axis."""

    def __init__(self, channels: int):
        super().__init__()
        self.upsample = nn.ConvTranspose2d(channels, channels, (2, 1), (2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


class ResUnet(nn.Module):
    """Residual U-Net over a (1, seq_len, 6) map; halves time three times, then back; sigmoid output."""

    def __init__(self, filters: tuple[int, int, int, int] = (32, 64, 128, 256)):
        super().__init__()
        f0, f1, f2, f3 = filters
        self.input_layer = nn.Sequential(
            nn.Conv2d(1, f0, 3, padding=1), nn.BatchNorm2d(f0), nn.ReLU(), nn.Conv2d(f0, f0, 3, padding=1)
        )
        self.input_skip = nn.Sequential(nn.Conv2d(1, f0, 3, padding=1))
        self.residual_conv_1 = ResidualConv(f0, f1, (2, 1))
        self.residual_conv_2 = ResidualConv(f1, f2, (2, 1))
        self.bridge = ResidualConv(f2, f3, (2, 1))
        self.upsample_1 = Upsample(f3)
        self.up_residual_conv1 = ResidualConv(f3 + f2, f2, 1)
        self.upsample_2 = Upsample(f2)
        self.up_residual_conv2 = ResidualConv(f2 + f1, f1, 1)
        self.upsample_3 = Upsample(f1)
        self.up_residual_conv3 = ResidualConv(f1 + f0, f0, 1)
        self.output_layer = nn.Sequential(nn.Conv2d(f0, 1, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x) + self.input_skip(x)
        x2 = self.residual_conv_1(x1)
        x3 = self.residual_conv_2(x2)
        x = self.bridge(x3)
        x = self.up_residual_conv1(torch.cat([self.upsample_1(x), x3], dim=1))
        x = self.up_residual_conv2(torch.cat([self.upsample_2(x), x2], dim=1))
        x = self.up_residual_conv3(torch.cat([self.upsample_3(x), x1], dim=1))
        return self.output_layer(x)


class PoseDecoder(nn.Module):
    """The CVAE decoder: (first pose, latent, style, audio window) → (seq_len, 6) motion."""

    def __init__(self, dims: PoseVAEDims):
        super().__init__()
        self.dims = dims
        self.resunet = ResUnet(dims.unet_filters)
        sizes = [dims.decoder_in, *dims.decoder_hidden, dims.seq_len * POSE_DIM]
        self.MLP = nn.Sequential()
        last = len(sizes) - 2
        for i, (cin, cout) in enumerate(itertools.pairwise(sizes)):
            self.MLP.add_module(f"L{i}", nn.Linear(cin, cout))
            if i < last:
                self.MLP.add_module(f"A{i}", nn.ReLU())
        self.MLP.add_module("sigmoid", nn.Sigmoid())
        self.pose_linear = nn.Linear(POSE_DIM, POSE_DIM)
        self.linear_audio = nn.Linear(dims.encoder_widths[-1], dims.audio_out)
        self.classbias = nn.Parameter(torch.zeros(dims.num_classes, dims.latent))

    def forward(self, ref: torch.Tensor, z: torch.Tensor, style: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, 6), (B, latent), (B,) long, (B, seq_len, audio_in) → (B, seq_len, 6)."""
        b = z.shape[0]
        audio = self.linear_audio(audio).reshape(b, -1)
        x = self.MLP(torch.cat([ref, z + self.classbias[style], audio], dim=-1))
        x = self.resunet(x.reshape(b, 1, self.dims.seq_len, -1))
        return self.pose_linear(x.squeeze(1))


class _AudioEncoderBlock(nn.Module):
    """Holds the Wav2Lip audio encoder under the official name ``audio_encoder.audio_encoder``."""

    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        self.audio_encoder = audio_encoder(widths)


class _Generator(nn.Module):
    """The CVAE's ``netG``; only its ``decoder`` is built (the encoder is training-only)."""

    def __init__(self, dims: PoseVAEDims):
        super().__init__()
        self.decoder = PoseDecoder(dims)


class PoseVAENet(nn.Module):
    """The inference half of ``Audio2Pose``, under the official module names."""

    def __init__(self, dims: PoseVAEDims = PoseVAEDims()):
        super().__init__()
        self.dims = dims
        self.audio_encoder = _AudioEncoderBlock(dims.encoder_widths)
        self.netG = _Generator(dims)

    def embed(self, mels: torch.Tensor) -> torch.Tensor:
        """(N, 1, 80, 16) → (N, audio_in) per-frame audio embeddings."""
        return encode(self.audio_encoder.audio_encoder, mels)

    def windows(self, num_frames: int) -> list[tuple[int, int, int]]:
        """(start, stop, keep) over the ``num_frames`` frames after the first: whole windows, then the tail.

        Each window decodes frames start..stop (``seq_len`` of them when the clip allows) and keeps its
        last ``keep`` outputs.
        """
        n = self.dims.seq_len
        spans = [(i * n, (i + 1) * n, n) for i in range(num_frames // n)]
        if num_frames % n:
            spans.append((max(0, num_frames - n), num_frames, num_frames % n))
        return spans

    def forward(
        self,
        mels: torch.Tensor,
        ref: torch.Tensor,
        style: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(T, 1, 80, 16) mel windows, (6,) first-frame pose, style id → (T, 6) pose (unsmoothed).

        Frame 0 is the reference pose itself; frames 1.. are the reference plus the decoded motion.
        """
        style = parse_pose_style(style, self.dims.num_classes)
        spans = self.windows(mels.shape[0] - 1)
        if not spans:
            return ref[None].clone()
        emb = self.embed(mels[1:])
        # One latent per window, drawn in window order as the official loop does; then one batched decode.
        z = torch.cat([torch.randn(1, self.dims.latent, generator=generator) for _ in spans]).to(ref.device)
        audio = []
        for start, stop, _ in spans:
            window = emb[start:stop]
            if len(window) < self.dims.seq_len:  # a clip shorter than one window: repeat its first frame
                window = torch.cat([window[:1].expand(self.dims.seq_len - len(window), -1), window])
            audio.append(window)
        styles = torch.full((len(spans),), style, device=ref.device)
        out = self.netG.decoder(ref[None].expand(len(spans), -1), z, styles, torch.stack(audio))
        motion = [ref.new_zeros(1, POSE_DIM)] + [o[-keep:] for o, (_, _, keep) in zip(out, spans, strict=True)]
        return ref[None] + torch.cat(motion)


def check_frames(num_frames: int) -> int:
    """``num_frames`` when the smoothing can fit it, else :class:`InputError`."""
    if num_frames < MIN_FRAMES:
        raise InputError(
            f"the clip is too short for SadTalker: {num_frames} frame(s) at 25 fps, it needs at least "
            f"{MIN_FRAMES} ({MIN_FRAMES / 25:.2f} s of audio)"
        )
    return num_frames


def smooth_pose(pose: np.ndarray) -> np.ndarray:
    """Savitzky–Golay along time: window 13, order 2 (the largest odd window ≤ T for shorter clips)."""
    t = check_frames(pose.shape[0])
    window = SMOOTH_WINDOW if t >= SMOOTH_WINDOW else (t - 1) // 2 * 2 + 1
    return savgol_filter(pose, window, SMOOTH_ORDER, axis=0).astype(np.float32)


def _linear_ids(state: dict[str, torch.Tensor], prefix: str) -> list[int]:
    """Sorted ids ``i`` of the ``<prefix><i>.weight`` keys (the Linear layers of an ``MLP``)."""
    return sorted(int(k[len(prefix) :].split(".")[0]) for k in state if k.startswith(prefix) and k.endswith(".weight"))


def posevae_dims(state: dict[str, torch.Tensor]) -> PoseVAEDims:
    """Sizes of a PoseVAE from its (``audio2pose.``-stripped) state dict."""
    dec = "netG.decoder."
    mlp = _linear_ids(state, f"{dec}MLP.L")
    if not mlp:
        raise KeyError(f"{dec}MLP.L0.weight")
    enc_mlp = _linear_ids(state, "netG.encoder.MLP.L")
    classbias = state[f"{dec}classbias"]
    unet = f"{dec}resunet."
    out = int(state[f"{dec}MLP.L{mlp[-1]}.weight"].shape[0])
    return PoseVAEDims(
        encoder_widths=encoder_widths(state, "audio_encoder.audio_encoder."),
        num_classes=int(classbias.shape[0]),
        seq_len=out // POSE_DIM,
        latent=int(classbias.shape[1]),
        audio_out=int(state[f"{dec}linear_audio.weight"].shape[0]),
        decoder_hidden=tuple(int(state[f"{dec}MLP.L{i}.weight"].shape[0]) for i in mlp[:-1]),
        unet_filters=(
            int(state[f"{unet}input_layer.0.weight"].shape[0]),
            int(state[f"{unet}residual_conv_1.conv_block.2.weight"].shape[0]),
            int(state[f"{unet}residual_conv_2.conv_block.2.weight"].shape[0]),
            int(state[f"{unet}bridge.conv_block.2.weight"].shape[0]),
        ),
        encoder_hidden=tuple(int(state[f"netG.encoder.MLP.L{i}.weight"].shape[0]) for i in enc_mlp),
        discriminator_widths=(
            int(state["netD_motion.seq.0.conv.weight"].shape[0]),
            int(state["netD_motion.seq.1.conv.weight"].shape[0]),
            int(state["netD_motion.seq.2.conv.weight"].shape[0]),
        ),
    )


def predict_pose(
    net: PoseVAENet,
    mels: np.ndarray,
    pose_style: int,
    seed: int,
    ref_pose: np.ndarray | None = None,
) -> np.ndarray:
    """(T, 80, 16) mel windows → (T, 6) smoothed pose: 3 angles (radians) + 3 translations.

    ``ref_pose`` is the first frame's pose (default zeros: frontal and centred); ``seed`` fixes the
    latent drawn for each window.
    """
    check_frames(mels.shape[0])
    pose_style = parse_pose_style(pose_style, net.dims.num_classes)
    device = next(net.parameters()).device
    ref = torch.zeros(POSE_DIM) if ref_pose is None else torch.as_tensor(ref_pose, dtype=torch.float32)
    generator = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        pose = net(torch.from_numpy(mels)[:, None].to(device), ref.to(device), pose_style, generator)
    return smooth_pose(pose.float().cpu().numpy())
