"""The ``emote`` engine (DESIGN §4): speech + emotion + intensity + identity → FLAME expression and jaw."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.arkit import EMOTIONS
from core.engines.base import EngineOptions, ProgressFn, check_cancel
from core.engines.emote.config import MEAD_TRAINING_IDS, cfg_get, identity_names, read_yaml
from core.engines.emote.inputs import (
    FPS,
    SAMPLES_PER_FRAME,
    condition_matrix,
    emotion_track,
    prepare_audio,
    resolve_identity,
)
from core.errors import ModelFormatError
from core.model_files import EMOTE
from core.track import Track

EXPECTED_FLAME = "FLAME 2020"


class EmoteEngine:
    """EMOTE (v1/v2) from an official release folder, loaded on first use."""

    name = "emote"
    rig = "flame"
    native_fps = FPS

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        checkpoint: str | Path | None = None,
        model_config: str | Path | None = None,
        device: str = "cpu",  # "auto" picks cuda when available
        memory_budget: int | None = None,  # bytes one pass may use; default: from the device (windows.py)
    ) -> None:
        self.model_dir = Path(model_dir).expanduser() if model_dir else EMOTE.default_path()
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        self.model_config = Path(model_config).expanduser() if model_config else None
        self.device = device
        self.memory_budget = memory_budget
        self._release: Any = None  # release.Release once loaded
        self._net: Any = None
        self._lock = threading.Lock()

    # ---- status / describe -------------------------------------------------------------------
    def _cfg_path(self) -> Path:
        return self.model_config or self.model_dir / "cfg.yaml"

    def status(self) -> tuple[bool, str]:
        cfg = self._cfg_path()
        ckpts = self.model_dir / "checkpoints"
        has_ckpt = self.checkpoint.is_file() if self.checkpoint else ckpts.is_dir() and any(ckpts.glob("*.ckpt"))
        if cfg.is_file() and has_ckpt:
            return True, f"EMOTE release found in {self.model_dir}"
        return False, EMOTE.missing_message(self.model_dir)

    def describe(self) -> dict[str, Any]:
        identities: list[str] = []
        if self._release is not None:
            identities = self._identities()
        elif self._cfg_path().is_file():
            try:
                cfg = read_yaml(self._cfg_path())
                count = int(cfg_get(cfg, "model.sequence_decoder.style_embedding.n_identities", 0) or 0)
                identities = identity_names(cfg, count) or [str(i) for i in range(count)]
            except (ModelFormatError, TypeError, ValueError):
                identities = []
        return {
            "engine": self.name,
            "rig": self.rig,
            "native_fps": self.native_fps,
            "emotions": list(EMOTIONS),
            "intensity": "continuous 0..1: 0 mild, 0.5 medium, 1 strong (neutral has one level)",
            "identities": identities or list(MEAD_TRAINING_IDS),
            "identity_option": "extra['identity']: a training speaker's name or index (default 0)",
            "outputs": "FLAME expression exp000.. and jaw rotation (axis-angle)",
            "flame": f"expects {EXPECTED_FLAME}",
            "long_clips": "one pass up to the device's memory bound, beyond it cross-faded windows",
        }

    def _identities(self) -> list[str]:
        assert self._release is not None
        cfg = self._release.config
        return cfg.identity_names or [str(i) for i in range(cfg.n_identities)]

    # ---- model -------------------------------------------------------------------------------
    def _load(self) -> None:
        with self._lock:
            if self._net is not None:
                return

            from core.engines.emote.release import build_network, load_release
            from core.torch_device import resolve_device

            device = resolve_device(self.device)
            release = load_release(self.model_dir, self.checkpoint, self.model_config)
            self._net = build_network(release).to(device)
            release.state_dict = {}  # the tensors now live in the network
            self._torch_device = device
            self._release = release

    # ---- run ---------------------------------------------------------------------------------
    def run(
        self,
        audio: np.ndarray,
        options: EngineOptions,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Track:
        from core.engines.emote.windows import memory_budget, plan_windows, run_windows, single_pass_frames

        input_values = prepare_audio(audio)
        num_frames = input_values.shape[0] // SAMPLES_PER_FRAME
        if progress:
            progress(0.0, "loading EMOTE")
        self._load()
        check_cancel(cancel)
        release = self._release
        assert release is not None
        cfg = release.config
        identity = resolve_identity(options.extra.get("identity"), cfg.identity_names, cfg.n_identities)
        emotions = emotion_track(
            num_frames, options.emotion, options.intensity, options.emotion_keys, cfg.n_intensities
        )
        condition = condition_matrix(emotions, identity, cfg.n_identities)
        budget = self.memory_budget or memory_budget(self._torch_device)
        window = single_pass_frames(cfg, budget)
        device = self._torch_device
        pred = run_windows(self._net, input_values, condition, device, window, progress=progress, cancel=cancel)
        if progress:
            progress(1.0, "done")
        exp_dim = cfg.flint.exp_dim
        names = self._identities()
        meta = {
            "engine": self.name,
            "model": release.name,
            "model_version": release.name,
            "checkpoint": str(release.checkpoint),
            "emotion": options.emotion,
            "intensity": float(options.intensity),
            "emotion_keys": [[float(t), e, float(i)] for t, e, i in options.emotion_keys or []],
            "identity": names[identity],
            "identity_index": identity,
            "passes": len(plan_windows(num_frames, window)),
            "audio_duration": float(len(audio) / 16000.0),
            "expects_flame": EXPECTED_FLAME,
            "warnings": [],
        }
        track = Track(
            fps=FPS,
            rig=self.rig,
            channels=[f"exp{i:03d}" for i in range(exp_dim)],
            values=pred[:, :exp_dim],
            rotations={"jaw": pred[:, exp_dim : exp_dim + 3]},
            meta=meta,
        )
        return track
