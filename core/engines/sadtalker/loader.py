"""Strict loading of ExpNet and PoseVAE from the official ``SadTalker_V0.0.2_256.safetensors``.

The release file holds the whole SadTalker model; only the tensors under ``audio2exp.`` (ExpNet,
``SimpleWrapperV2``) and ``audio2pose.`` (``Audio2Pose``) are read, the renderer's are never touched.
Each block must match the official module's state dict key for key: the CVAE encoder (``netG.encoder.*``)
and the motion discriminator (``netD_motion.*``) only train, so they are checked but not loaded.
BatchNorm's ``num_batches_tracked`` counters may be absent, as torch's own loader allows for files
without version metadata. Sizes are read from the weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError, safe_open

from core.checkpoints import check_state_dict, listed, shapes_of
from core.engines.sadtalker.expnet import ExpNet, expnet_dims
from core.engines.sadtalker.posevae import POSE_DIM, PoseVAEDims, PoseVAENet, ResUnet, posevae_dims
from core.errors import ModelFormatError, ModelMissingError
from core.model_files import SADTALKER
from core.torch_device import resolve_device

EXP_PREFIX = "audio2exp."
POSE_PREFIX = "audio2pose."
_OPTIONAL_SUFFIX = ".num_batches_tracked"
D = TypeVar("D")
M = TypeVar("M", bound=torch.nn.Module)


def read_block(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix`` (prefix stripped); nothing else in the file is read."""
    if not path.is_file():
        raise ModelMissingError(SADTALKER.missing_message(path))
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            names = [k for k in f.keys() if k.startswith(prefix)]  # noqa: SIM118 (safe_open is not iterable)
            block = {k[len(prefix) :]: f.get_tensor(k) for k in names}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read {path.name} as a safetensors file: {exc}") from None
    if not block:
        raise ModelFormatError(f"{path.name} has no '{prefix}' tensors; is it SadTalker's {SADTALKER.name}?")
    return block


def training_only_layout(dims: PoseVAEDims) -> dict[str, tuple[int, ...]]:
    """Key → shape of ``Audio2Pose``'s training-only parts: the CVAE encoder and the motion discriminator."""
    enc = "netG.encoder."
    layout = {f"{enc}resunet.{k}": tuple(v.shape) for k, v in ResUnet(dims.unet_filters).state_dict().items()}
    sizes = [POSE_DIM + dims.seq_len * (POSE_DIM + dims.audio_out) + dims.latent, *dims.encoder_hidden]
    for i, (cin, cout) in enumerate(itertools.pairwise(sizes)):
        layout[f"{enc}MLP.L{i}.weight"] = (cout, cin)
        layout[f"{enc}MLP.L{i}.bias"] = (cout,)
    for name in ("linear_means", "linear_logvar"):
        layout[f"{enc}{name}.weight"] = (dims.latent, sizes[-1])
        layout[f"{enc}{name}.bias"] = (dims.latent,)
    layout[f"{enc}linear_audio.weight"] = (dims.audio_out, dims.encoder_widths[-1])
    layout[f"{enc}linear_audio.bias"] = (dims.audio_out,)
    layout[f"{enc}classbias"] = (dims.num_classes, dims.latent)
    cin = POSE_DIM
    for i, (cout, kernel) in enumerate(zip(dims.discriminator_widths, (4, 4, 3), strict=True)):
        layout[f"netD_motion.seq.{i}.conv.weight"] = (cout, cin, kernel)
        for stat in ("weight", "bias", "running_mean", "running_var"):
            layout[f"netD_motion.seq.{i}.norm.{stat}"] = (cout,)
        layout[f"netD_motion.seq.{i}.norm.num_batches_tracked"] = ()
        cin = cout
    layout["netD_motion.seq.3.weight"] = (1, cin, 3)
    layout["netD_motion.seq.3.bias"] = (1,)
    return layout


def check_layout(name: str, state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]]) -> None:
    """:func:`~core.checkpoints.check_state_dict` against SadTalker's layout; BatchNorm counters may be absent."""
    check_state_dict(expected, state, name, "SadTalker", optional=lambda k: k.endswith(_OPTIONAL_SUFFIX))


def _sized(name: str, infer: Callable[[dict[str, torch.Tensor]], D], state: dict[str, torch.Tensor]) -> D:
    """Sizes read from the weights; a key they need that is absent is named."""
    try:
        return infer(state)
    except KeyError as exc:
        raise ModelFormatError(
            f"{name} does not match SadTalker's layout ({listed('missing', [exc.args[0]])})"
        ) from None


def _load(net: M, state: dict[str, torch.Tensor], device: torch.device) -> M:
    own = net.state_dict()
    net.load_state_dict({k: state.get(k, own[k]) for k in own}, strict=True)
    return net.to(device).eval().requires_grad_(False)


def load_expnet(path: Path, device: str = "cpu") -> ExpNet:
    """ExpNet from the ``audio2exp.`` block, checked key for key."""
    state = read_block(path, EXP_PREFIX)
    label = f"{path.name} [{EXP_PREFIX}*]"
    net = ExpNet(_sized(label, expnet_dims, state))
    check_layout(label, state, shapes_of(net))
    return _load(net, state, resolve_device(device))


def load_posevae(path: Path, device: str = "cpu") -> PoseVAENet:
    """PoseVAE's inference half from the ``audio2pose.`` block; the whole block is checked key for key."""
    state = read_block(path, POSE_PREFIX)
    label = f"{path.name} [{POSE_PREFIX}*]"
    dims = _sized(label, posevae_dims, state)
    net = PoseVAENet(dims)
    expected = shapes_of(net) | training_only_layout(dims)
    check_layout(label, state, expected)
    return _load(net, state, resolve_device(device))


@dataclass
class SadTalkerNets:
    expnet: ExpNet
    posevae: PoseVAENet


def load_sadtalker(path: Path, device: str = "cpu") -> SadTalkerNets:
    """Both nets from one release file."""
    return SadTalkerNets(load_expnet(path, device), load_posevae(path, device))
