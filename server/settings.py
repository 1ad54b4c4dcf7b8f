"""Server settings: where results live, who may connect, and the limits on what a request may ask for."""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import InputError
from core.model_files import RENDERER, SADTALKER
from core.paths import data_dir

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


class Settings(BaseModel):
    """Everything `mouthpiece serve` can set; the defaults suit one artist on one machine."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    """Host names besides the bound address and localhost that requests may name (a reverse proxy's)."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins (``https://tool.example``) whose pages may call the server; none by default."""
    data_dir: Path = Field(default_factory=data_dir)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_upload_mb: float = Field(50.0, gt=0)
    max_audio_seconds: float = Field(300.0, gt=0)
    max_transcript_chars: int = Field(5000, ge=0)
    max_queue: int = Field(32, ge=1)
    keep_days: float = Field(7.0, gt=0)
    max_results_mb: float = Field(2048.0, gt=0)
    stall_seconds: float = Field(600.0, gt=0)
    """A running job whose engine reports nothing for this long is failed and its engine process replaced."""
    header_timeout: float = Field(10.0, gt=0)
    """Seconds a client has to send a request's line and headers; slower ones get 408 and are closed."""
    renderer_checkpoint: Path | None = None
    """PIRenderer weights; None means ``<models>/styletalk/renderer_checkpoint.pt``."""
    renderer_config: Path | None = None
    """Renderer yaml/json (official ``renderer_conf.yaml`` layout, optional ``image_size``)."""
    sadtalker_weights: Path | None = None
    """PoseVAE weights for ``head_motion: "sadtalker"``; None means ``<models>/sadtalker/``'s release file."""

    @field_validator("token", mode="before")
    @classmethod
    def _token_text(cls, value: Any) -> Any:
        """An empty or all-blank token (``MOUTHPIECE_TOKEN=""``) means none; blanks around one never match."""
        if isinstance(value, str):
            if not value.strip():
                return None
            if value != value.strip():
                raise ValueError("the token starts or ends with a space or tab, which HTTP clients drop; remove it")
        return value

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def renderer_checkpoint_path(self) -> Path:
        """Where the renderer's weights are read from (resolved when asked: the models folder may move)."""
        return self.renderer_checkpoint or RENDERER.default_path()

    def sadtalker_weights_path(self) -> Path:
        return self.sadtalker_weights or SADTALKER.default_path()

    @property
    def is_loopback(self) -> bool:
        """Whether ``host`` is reachable only from this machine."""
        if self.host.lower() in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check(self) -> None:
        """Refuse settings that would expose the server without a token."""
        if not self.is_loopback and not self.token:
            raise InputError(
                f"binding {self.host} makes the server reachable from other machines; "
                "pass --token SECRET (clients then send 'Authorization: Bearer SECRET') or bind 127.0.0.1"
            )
        if self.token is not None and len(self.token) < 8:
            raise InputError("the token must be at least 8 characters long")

    def resolved_device(self) -> str:
        """``cuda`` when asked for (or ``auto`` and torch sees a GPU), else ``cpu``."""
        if self.device == "cpu":
            return "cpu"
        cuda = _cuda_available()
        if self.device == "cuda" and not cuda:
            raise InputError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
        return "cuda" if cuda else "cpu"


CUDA_PROBE = "import torch; print(torch.cuda.is_available())"
CUDA_PROBE_SECONDS = 300.0


@functools.cache
def _cuda_available() -> bool:
    """Whether torch sees a CUDA GPU, asked in a child process: the server process never imports torch."""
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        probe = subprocess.run(
            [sys.executable, "-c", CUDA_PROBE], capture_output=True, text=True, timeout=CUDA_PROBE_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.stdout.strip() == "True"
