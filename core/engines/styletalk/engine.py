"""The `styletalk` engine: phonemes (30 fps) + a style clip → BFM expression track."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.audio import SAMPLE_RATE
from core.engines.base import EngineOptions, ProgressFn, check_cancel
from core.engines.styletalk.config import read_overrides
from core.engines.styletalk.style_clip import find_style, list_styles, pad_style_clip, read_style_clip
from core.errors import InputError, ModelMissingError
from core.model_files import STYLETALK
from core.phonetics.segments import STYLETALK_SIL, check_styletalk_indices
from core.track import Track

if TYPE_CHECKING:
    from core.engines.styletalk.model import StyleTalkNet

FPS = 30.0


class StyleTalkEngine:
    """StyleTalk (AAAI 2023): speaking style from a reference clip, transferred to new speech."""

    name = "styletalk"
    rig = "bfm"
    native_fps = FPS

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        checkpoint: str | Path | None = None,
        model_config: str | Path | None = None,
        device: str = "cpu",
    ) -> None:
        base = Path(model_dir) if model_dir else STYLETALK.default_path().parent
        self.checkpoint = Path(checkpoint) if checkpoint else base / STYLETALK.name
        self.styles_dir = base / "styles"
        self.model_config = model_config
        self.device_name = device
        self._net: StyleTalkNet | None = None
        self._load_notes: list[str] = []

    def status(self) -> tuple[bool, str]:
        if self.checkpoint.is_file():
            return True, f"weights: {self.checkpoint}"
        return False, STYLETALK.missing_message(self.checkpoint)

    def describe(self) -> dict[str, Any]:
        return {
            "rig": self.rig,
            "native_fps": self.native_fps,
            "emotions": [],
            "styles": list_styles(self.styles_dir),
            "style_help": f"a Deep3DFaceRecon .mat or (T,64) .npy clip; named clips live in {self.styles_dir}",
        }

    def model(self) -> StyleTalkNet:
        if self._net is None:
            ready, message = self.status()
            if not ready:
                raise ModelMissingError(message)
            from core.engines.styletalk.loader import load_styletalk
            from core.torch_device import resolve_device

            net, self._load_notes = load_styletalk(self.checkpoint, read_overrides(self.model_config))
            self._net = net.to(resolve_device(self.device_name))
        return self._net

    def run(
        self,
        audio: np.ndarray | None,
        options: EngineOptions,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Track:
        report = progress or (lambda _f, _m: None)
        ready, message = self.status()
        if not ready:
            raise ModelMissingError(message)
        if not options.style:
            raise InputError("StyleTalk needs a style clip: pass a .mat/.npy file or a style name as the style")
        style_path = find_style(options.style, self.styles_dir)
        style = read_style_clip(style_path)
        warnings: list[str] = []
        phonemes = options.extra.get("phonemes")
        if phonemes is not None:
            seq = check_styletalk_indices(phonemes)
        else:
            if audio is None:
                raise InputError("StyleTalk needs audio or a phoneme sequence")
            report(0.02, "finding phonemes")
            seq, warnings = audio_phonemes(audio, options.transcript)
        if len(seq) == 0:
            raise InputError("the clip is too short: no 30 fps frame to animate")
        check_cancel(cancel)
        import torch

        from core.engines.styletalk.model import phoneme_windows

        net = self.model()
        device = next(net.parameters()).device
        cfg = net.cfg
        clip, mask = pad_style_clip(style, cfg.style_max_len)
        if style.shape[0] > cfg.style_max_len:
            warnings.append(f"style clip has {style.shape[0]} frames; its first {cfg.style_max_len} are used")
        windows = torch.from_numpy(phoneme_windows(seq, cfg.half_window, STYLETALK_SIL))[None].to(device)
        report(0.1, "animating")

        def on_chunk(fraction: float) -> None:
            check_cancel(cancel)
            report(0.1 + 0.85 * fraction, "animating")

        exp = net(
            windows,
            torch.from_numpy(clip)[None].to(device),
            torch.from_numpy(mask)[None].to(device),
            on_chunk=on_chunk,
        )[0]
        track = Track(
            fps=FPS,
            rig=self.rig,
            channels=[f"exp{i:02d}" for i in range(cfg.exp_dim)],
            values=exp.float().cpu().numpy(),
            meta={
                "engine": self.name,
                "model": self.checkpoint.name,
                "style": style_path.stem,
                "audio_duration": None if audio is None else len(audio) / SAMPLE_RATE,
                "phonemes": "given" if phonemes is not None else "pocketsphinx",
                "warnings": [*self._load_notes, *warnings],
            },
        )
        report(1.0, "done")
        return track


def audio_phonemes(audio: np.ndarray, transcript: str | None) -> tuple[np.ndarray, list[str]]:
    """30 fps StyleTalk indices from the builtin engine's pocketsphinx front end."""
    from core.phonetics import phones_for, styletalk_indices

    segments, warnings = phones_for(audio, transcript)
    n_frames = int(len(audio) / SAMPLE_RATE * FPS)
    return styletalk_indices(segments, n_frames), list(warnings)


__all__ = ["StyleTalkEngine"]
