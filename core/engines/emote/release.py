"""Reading an official EMOTE release folder: ``cfg.yaml`` + ``checkpoints/last.ckpt`` (+ FLINT prior folder).

The checkpoint is a Lightning file ``{"state_dict": ...}``, read by :mod:`core.checkpoints`: Lightning
extras that hold config objects (OmegaConf, Lightning classes, paths) are read as inert placeholders
and dropped, never executed; tensors that are not part of the network are ignored by prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.checkpoints import check_state_dict, listed, load_weights_file, shapes_of, tensor_entry
from core.engines.emote.config import (
    ANCHOR_KEYS,
    PRIOR_ANCHOR,
    EmoteConfig,
    LayoutError,
    cfg_get,
    emote_config,
    read_yaml,
)
from core.engines.emote.network import EmoteNetwork
from core.errors import ModelFormatError, ModelMissingError
from core.model_files import EMOTE

# Tensors that the real checkpoints carry beside the network (FLAME/texture buffers, the training
# renderer); we use the user's FLAME.
IGNORED_PREFIXES: tuple[str, ...] = (
    "renderer.",  # stage-2 configs register a (differentiable) renderer; not needed for inference
    "preprocessor.",
    "sequence_decoder.flame.",
    "sequence_decoder.motion_prior.preprocessor.",
    "sequence_decoder.motion_prior.postprocessor.",
)
# A FLINT checkpoint also holds its encoder (discarded by EMOTE) and FLAME buffers.
PRIOR_IGNORED_PREFIXES: tuple[str, ...] = ("motion_encoder.", "preprocessor.", "postprocessor.")


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a Lightning checkpoint (``{"state_dict": ...}``) or of a bare state dict."""
    obj = load_weights_file(path, "EMOTE checkpoint")
    bare = isinstance(obj, Mapping) and "state_dict" not in obj
    bare = bare and all(isinstance(v, torch.Tensor) for v in obj.values())
    return tensor_entry(obj, None if bare else "state_dict", path, "Lightning checkpoint")


def _find_checkpoint(folder: Path) -> Path | None:
    """``checkpoints/last.ckpt``; else the best 'val' checkpoint (lowest loss in its name); else the only one.

    Lightning names a checkpoint after its monitored metric, so ``val/loss`` makes a sub-folder:
    ``checkpoints/model-epoch=0758-val/loss_total=0.1139.ckpt``.
    """
    ckpts = folder / "checkpoints"
    if (ckpts / "last.ckpt").is_file():
        return ckpts / "last.ckpt"
    found = sorted(ckpts.rglob("*.ckpt")) if ckpts.is_dir() else []
    val = [p for p in found if "val" in str(p.relative_to(ckpts))]

    def loss(p: Path) -> float:
        m = re.search(r"=([-+0-9.eE]+?)(?:\.ckpt)?$", p.name)
        return float(m.group(1)) if m else float("inf")

    if val:
        return min(val, key=loss)
    return found[0] if len(found) == 1 else None


@dataclass
class Release:
    """A loaded release: config, the state dict in our naming, and where it came from."""

    folder: Path
    checkpoint: Path
    cfg: dict[str, Any]
    config: EmoteConfig
    state_dict: dict[str, torch.Tensor]
    prior_folder: Path | None

    @property
    def name(self) -> str:
        return self.folder.name


def _prior_folder(cfg: Mapping[str, Any], model_dir: Path) -> Path | None:
    """Locate the FLINT folder named by ``motion_prior.path`` (relative to the assets root upstream)."""
    rel = str(cfg_get(cfg, "model.sequence_decoder.motion_prior.path", "") or "")
    candidates: list[Path] = []
    if rel:
        p = Path(rel)
        if p.is_absolute():
            candidates.append(p)
        else:
            # upstream: <assets>/TalkingHead/models/EMOTE_v2 and <assets>/MotionPrior/models/FLINTv2
            candidates += [base / p for base in (model_dir, *model_dir.parents[:3])]
            candidates += [base / p.name for base in (model_dir, *model_dir.parents[:3])]
    for name in ("FLINTv2", "FLINT"):
        candidates += [model_dir / name, model_dir.parent / name]
    return next((c for c in candidates if (c / "cfg.yaml").is_file()), None)


def load_release(
    model_dir: Path | None = None, checkpoint: Path | None = None, model_config: Path | None = None
) -> Release:
    """Read and check a release folder; raise ModelMissingError / ModelFormatError with the reason."""
    folder = Path(model_dir) if model_dir else EMOTE.default_path()
    cfg_path = Path(model_config) if model_config else folder / "cfg.yaml"
    ckpt_path = Path(checkpoint) if checkpoint else _find_checkpoint(folder)
    if not cfg_path.is_file() or ckpt_path is None or not ckpt_path.is_file():
        raise ModelMissingError(EMOTE.missing_message(folder))
    cfg = read_yaml(cfg_path)
    sd = {k: v for k, v in load_checkpoint(ckpt_path).items() if not k.startswith(IGNORED_PREFIXES)}
    missing = [k for k in ANCHOR_KEYS if k not in sd]
    if missing:
        foreign = [k for k in sd if not k.startswith(("audio_model.", "sequence_"))]
        raise ModelFormatError(
            f"{ckpt_path} is not an EMOTE checkpoint: {listed('missing keys', missing)}; "
            f"{listed('unexpected keys', foreign)}"
        )
    prior_cfg = cfg_get(cfg, "model.sequence_decoder.motion_prior.cfg", None)
    prior_source = f"{cfg_path} (model.sequence_decoder.motion_prior.cfg)"
    prior_folder, prior_ckpt = None, None
    if PRIOR_ANCHOR not in sd or prior_cfg is None:
        prior_folder = _prior_folder(cfg, folder)
    if prior_folder is not None and prior_cfg is None:
        prior_cfg = read_yaml(prior_folder / "cfg.yaml")
        prior_source = str(prior_folder / "cfg.yaml")
    elif prior_cfg is None:
        where = cfg_get(cfg, "model.sequence_decoder.motion_prior.path", "") or "MotionPrior/models/FLINTv2"
        prior_source = f"{cfg_path}, and no FLINT cfg.yaml was found at {where}"
    if PRIOR_ANCHOR not in sd:
        if prior_folder is None:
            raise ModelFormatError(
                f"{ckpt_path} has no FLINT motion-prior weights and no FLINT prior folder was found "
                f"(cfg.yaml names '{cfg_get(cfg, 'model.sequence_decoder.motion_prior.path', '')}'); "
                f"put the FLINTv2 folder beside {folder}"
            )
        prior_ckpt = _find_checkpoint(prior_folder)
        if prior_ckpt is None:
            raise ModelMissingError(f"no checkpoint found in {prior_folder / 'checkpoints'}")
        prior_sd = load_checkpoint(prior_ckpt)
        stray = [k for k in prior_sd if not k.startswith(("motion_decoder.", *PRIOR_IGNORED_PREFIXES))]
        if stray or PRIOR_ANCHOR[len("sequence_decoder.motion_prior.") :] not in prior_sd:
            raise ModelFormatError(
                f"{prior_ckpt} is not a FLINT checkpoint: {listed('unexpected keys', stray)}"
                if stray
                else f"{prior_ckpt} is not a FLINT checkpoint: missing motion_decoder.* keys"
            )
        prefix = "sequence_decoder.motion_prior."
        sd.update({prefix + k: v for k, v in prior_sd.items() if k.startswith("motion_decoder.")})
    try:
        config = emote_config(cfg, sd, prior_cfg, prior_source=prior_source)
    except KeyError as exc:
        raise ModelFormatError(f"{ckpt_path} is not an EMOTE checkpoint: missing key {exc}") from None
    except LayoutError as exc:
        if prior_ckpt is not None and "motion_prior." in str(exc):
            raise ModelFormatError(f"{prior_ckpt} is damaged or not a FLINT checkpoint: {exc}") from None
        raise ModelFormatError(f"{ckpt_path} is damaged or not an EMOTE checkpoint: {exc}") from None
    return Release(folder, ckpt_path, cfg, config, sd, prior_folder)


_WEIGHT_NORM_NAMES = (
    (".weight_g", ".parametrizations.weight.original0"),
    (".weight_v", ".parametrizations.weight.original1"),
)


def rename_for(model_keys: set[str], sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map legacy weight-norm names (``weight_g``/``weight_v``) onto the parametrization names if needed."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        for old, new in _WEIGHT_NORM_NAMES:
            if k.endswith(old) and k not in model_keys and k[: -len(old)] + new in model_keys:
                k = k[: -len(old)] + new
        out[k] = v
    return out


def load_weights(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], source: Path, assign: bool = False) -> None:
    """Strict load that names every missing, unexpected and misshapen key (``assign`` adopts the tensors)."""
    expected = shapes_of(model)
    sd = rename_for(set(expected), sd)
    check_state_dict(expected, sd, str(source), "EMOTE")
    floats = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    wrong = sorted(f"{k} {sd[k].dtype}" for k in floats if not sd[k].is_floating_point())
    if wrong:
        raise ModelFormatError(f"{source} does not match EMOTE's layout ({listed('not floating-point', wrong)})")
    model.load_state_dict(sd, strict=True, assign=assign)


def build_network(release: Release) -> EmoteNetwork:
    """The network with the release's weights, built without a throw-away random initialisation."""
    try:
        with torch.device("meta"):
            net = EmoteNetwork(release.config)
    except (ValueError, AssertionError, ZeroDivisionError, RuntimeError) as exc:  # sizes torch's layers refuse
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelFormatError(
            f"{release.checkpoint} with its cfg.yaml describes a network that cannot be built ({first[:120]})"
        ) from None
    load_weights(net, release.state_dict, release.checkpoint, assign=True)
    return net.float().eval()
