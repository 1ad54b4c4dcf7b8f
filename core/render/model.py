"""PIRenderer's FaceGenerator as StyleTalk ships it: mapping net → warping hourglass → editing net.

Module attribute names follow the official state-dict keys (``mapping_net.``, ``warpping_net.`` (sic),
``editing_net.``), so a released ``renderer_checkpoint.pt`` loads unchanged. Behaviour copied on purpose:

- ADAIN: non-affine instance norm (eps 1e-5) · (1 + γ(z)) + β(z) with a 128-unit hidden layer;
- LayerNorm2d normalises over (C, H, W) jointly, then a per-channel scale and shift;
- the flow → sampling grid step pairs a corner-aligned base grid with ``align_corners=False`` resampling;
- FineADAINResBlock2d returns ``x + ADAIN2(conv2(x))``: its conv1/norm1 branch is computed upstream and then
  overwritten, so here those weights are kept (for the key layout) but never run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LEAK = 0.1


@dataclass(frozen=True)
class RendererConfig:
    """Layer sizes (official ``renderer_conf.yaml`` names) plus what the weights cannot carry."""

    coeff_nc: int = 73
    descriptor_nc: int = 256
    mapping_layers: int = 3
    image_nc: int = 3
    max_nc: int = 256
    warp_base_nc: int = 32
    warp_encoder_layers: int = 5
    warp_decoder_layers: int = 3
    edit_base_nc: int = 64
    edit_layers: int = 3
    edit_res_blocks: int = 2
    adain_hidden: int = 128
    image_size: int = 256
    semantic_radius: int = 13

    @property
    def window(self) -> int:
        return 2 * self.semantic_radius + 1

    @property
    def size_multiple(self) -> int:
        """The image side must be a multiple of this, and at least twice it (instance norm needs 2×2)."""
        return 2 ** max(self.warp_encoder_layers, self.edit_layers)

    def warp_channels(self, level: int) -> int:
        return min(self.warp_base_nc * 2**level, self.max_nc)

    def edit_channels(self, level: int) -> int:
        return min(self.edit_base_nc * 2**level, self.max_nc)


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAK)


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=(k - 1) // 2)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    """×2 up-sampling ConvT3/s2 (output exactly twice the input size)."""
    return nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1)


class LayerNorm2d(nn.Module):
    """Layer norm over (C, H, W) with a (C, 1, 1) scale and shift."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[1:]
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape))


class Adain(nn.Module):
    """Instance norm modulated by the motion descriptor ``z`` (B, D)."""

    def __init__(self, channels: int, descriptor_nc: int, hidden: int) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Linear(descriptor_nc, hidden), nn.ReLU())
        self.mlp_gamma = nn.Linear(hidden, channels)
        self.mlp_beta = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.mlp_shared(z)
        gamma = self.mlp_gamma(h)[:, :, None, None]
        beta = self.mlp_beta(h)[:, :, None, None]
        return F.instance_norm(x, eps=1e-5) * (1 + gamma) + beta


class MappingNet(nn.Module):
    """(B, 73, 27) coefficient window → (B, D, 1) motion descriptor (dilated 1-D convs, then a mean)."""

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        d = cfg.descriptor_nc
        self.layers = cfg.mapping_layers
        self.first = nn.Sequential(nn.Conv1d(cfg.coeff_nc, d, kernel_size=7))
        for i in range(self.layers):
            setattr(self, f"encoder{i}", nn.Sequential(_act(), nn.Conv1d(d, d, kernel_size=3, dilation=3)))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        out = self.first(windows)
        for i in range(self.layers):
            out = getattr(self, f"encoder{i}")(out) + out[:, :, 3:-3]
        return out.mean(dim=2, keepdim=True)


class AdainDown(nn.Module):
    """ADAIN → act → conv4/s2, then ADAIN → act → conv3."""

    def __init__(self, cin: int, cout: int, cfg: RendererConfig) -> None:
        super().__init__()
        self.conv_0 = nn.Conv2d(cin, cout, kernel_size=4, stride=2, padding=1)
        self.conv_1 = _conv(cout, cout, 3)
        self.norm_0 = Adain(cin, cfg.descriptor_nc, cfg.adain_hidden)
        self.norm_1 = Adain(cout, cfg.descriptor_nc, cfg.adain_hidden)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_0(F.leaky_relu(self.norm_0(x, z), LEAK))
        return self.conv_1(F.leaky_relu(self.norm_1(x, z), LEAK))


class AdainUp(nn.Module):
    """Residual ×2 up-sampling: shortcut ConvT3/s2 beside conv3 → ConvT3/s2, each after ADAIN → act."""

    def __init__(self, cin: int, cout: int, cfg: RendererConfig) -> None:
        super().__init__()
        self.conv_0 = _conv(cin, cout, 3)
        self.conv_1 = _up(cout, cout)
        self.conv_s = _up(cin, cout)
        self.norm_0 = Adain(cin, cfg.descriptor_nc, cfg.adain_hidden)
        self.norm_1 = Adain(cout, cfg.descriptor_nc, cfg.adain_hidden)
        self.norm_s = Adain(cin, cfg.descriptor_nc, cfg.adain_hidden)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(F.leaky_relu(self.norm_s(x, z), LEAK))
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, z), LEAK))
        return shortcut + self.conv_1(F.leaky_relu(self.norm_1(dx, z), LEAK))


class HourglassEncoder(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.layers = cfg.warp_encoder_layers
        self.input_layer = _conv(cfg.image_nc, cfg.warp_base_nc, 7)
        for i in range(self.layers):
            setattr(self, f"encoder{i}", AdainDown(cfg.warp_channels(i), cfg.warp_channels(i + 1), cfg))

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> list[torch.Tensor]:
        """Features at every level, finest first. A single image is shared by the whole batch of ``z``."""
        out = self.input_layer(image).expand(z.shape[0], -1, -1, -1)
        feats = [out]
        for i in range(self.layers):
            out = getattr(self, f"encoder{i}")(out, z)
            feats.append(out)
        return feats


class HourglassDecoder(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.levels = list(range(cfg.warp_encoder_layers - cfg.warp_decoder_layers, cfg.warp_encoder_layers))[::-1]
        deepest = cfg.warp_encoder_layers - 1
        for i in self.levels:
            cin = cfg.warp_channels(i + 1) * (1 if i == deepest else 2)
            setattr(self, f"decoder{i}", AdainUp(cin, cfg.warp_channels(i), cfg))
        self.output_nc = 2 * cfg.warp_channels(self.levels[-1])

    def forward(self, feats: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        out = feats[-1]
        for i in self.levels:
            out = torch.cat([getattr(self, f"decoder{i}")(out, z), feats[i]], 1)
        return out


class Hourglass(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.encoder = HourglassEncoder(cfg)
        self.decoder = HourglassDecoder(cfg)


def flow_to_grid(flow: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) pixel flow → (B, h, w, 2) sampling grid on PIRenderer's corner-aligned base grid."""
    _, _, h, w = flow.shape
    ys = torch.linspace(-1.0, 1.0, h, dtype=flow.dtype, device=flow.device)
    xs = torch.linspace(-1.0, 1.0, w, dtype=flow.dtype, device=flow.device)
    base = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1)
    scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], dtype=flow.dtype, device=flow.device)
    return base + flow.permute(0, 2, 3, 1) * scale


def warp_image(source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Sample ``source`` (B, C, H, W) at ``grid``, bilinearly resized to H×W first (align_corners=False)."""
    h, w = source.shape[-2:]
    if grid.shape[1:3] != (h, w):
        grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(h, w), mode="bilinear").permute(0, 2, 3, 1)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class WarpingNet(nn.Module):
    """Descriptor-conditioned hourglass → flow field (H/4) → the warped source image."""

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.hourglass = Hourglass(cfg)
        nc = self.hourglass.decoder.output_nc
        self.flow_out = nn.Sequential(LayerNorm2d(nc), _act(), _conv(nc, 2, 7))

    def forward(self, source: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_field, warp_image); ``source`` is (B, 3, H, W) or one (1, 3, H, W) image for all."""
        feats = self.hourglass.encoder(source, z)
        flow = self.flow_out(self.hourglass.decoder(feats, z))
        warped = warp_image(source.expand(z.shape[0], -1, -1, -1), flow_to_grid(flow))
        return flow, warped


class NormBlock(nn.Module):
    """conv → LayerNorm2d → act (→ 2×2 average pool): PIRenderer's first/down/up/jump blocks."""

    def __init__(self, cin: int, cout: int, k: int, pool: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(cin, cout, k), LayerNorm2d(cout), _act()]
        if pool:
            layers.append(nn.AvgPool2d(2))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UpBlock(NormBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class AdainResBlock(nn.Module):
    """``x + ADAIN2(conv2(x), z)``; conv1/norm1 are loaded but unused, as in the official forward."""

    def __init__(self, channels: int, cfg: RendererConfig) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.conv2 = _conv(channels, channels, 3)
        self.norm1 = Adain(channels, cfg.descriptor_nc, cfg.adain_hidden)
        self.norm2 = Adain(channels, cfg.descriptor_nc, cfg.adain_hidden)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return x + self.norm2(self.conv2(x), z)


class AdainResBlocks(nn.Module):
    def __init__(self, count: int, channels: int, cfg: RendererConfig) -> None:
        super().__init__()
        self.count = count
        for j in range(count):
            setattr(self, f"res{j}", AdainResBlock(channels, cfg))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        for j in range(self.count):
            x = getattr(self, f"res{j}")(x, z)
        return x


class EditingEncoder(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.layers = cfg.edit_layers
        self.first = NormBlock(2 * cfg.image_nc, cfg.edit_base_nc, 7)
        for i in range(self.layers):
            setattr(self, f"down{i}", NormBlock(cfg.edit_channels(i), cfg.edit_channels(i + 1), 3, pool=True))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.first(x)]
        for i in range(self.layers):
            feats.append(getattr(self, f"down{i}")(feats[-1]))
        return feats


class FinalBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.model = nn.Sequential(_conv(cin, cout, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class EditingDecoder(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.layers = cfg.edit_layers
        for i in reversed(range(self.layers)):
            cin, cout = cfg.edit_channels(i + 1), cfg.edit_channels(i)
            setattr(self, f"up{i}", UpBlock(cin, cout, 3))
            setattr(self, f"res{i}", AdainResBlocks(cfg.edit_res_blocks, cin, cfg))
            setattr(self, f"jump{i}", NormBlock(cout, cout, 3))
        self.final = FinalBlock(cfg.edit_base_nc, cfg.image_nc)

    def forward(self, feats: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        out = feats[-1]
        for i in reversed(range(self.layers)):
            out = getattr(self, f"up{i}")(getattr(self, f"res{i}")(out, z))
            out = getattr(self, f"jump{i}")(feats[i]) + out
        return self.final(out)


class EditingNet(nn.Module):
    """cat(source, warped) → U-Net with ADAIN residual blocks → the final image (tanh)."""

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.encoder = EditingEncoder(cfg)
        self.decoder = EditingDecoder(cfg)

    def forward(self, source: torch.Tensor, warped: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([source.expand(warped.shape[0], -1, -1, -1), warped], 1)
        return self.decoder(self.encoder(x), z)


class FaceGenerator(nn.Module):
    """Source portrait (in [-1, 1]) + coefficient windows → a dict of the descriptor, flow, warp and image."""

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mapping_net = MappingNet(cfg)
        self.warpping_net = WarpingNet(cfg)
        self.editing_net = EditingNet(cfg)

    def forward(self, source: torch.Tensor, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        """``source`` (B or 1, 3, H, W); ``windows`` (B, coeff_nc, window)."""
        descriptor = self.mapping_net(windows)
        z = descriptor.flatten(1)
        flow, warped = self.warpping_net(source, z)
        return {
            "descriptor": descriptor,
            "flow_field": flow,
            "warp_image": warped,
            "fake_image": self.editing_net(source, warped, z),
        }
