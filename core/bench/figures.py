"""What the model benches share: a speech-like test signal, and the figures about the machine."""

from __future__ import annotations

import json
import resource
from typing import Any

import numpy as np
import torch


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A 16 kHz voiced-sounding test signal: a gliding tone with a 3 Hz syllable envelope plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    pitch = 200 + 150 * np.sin(2 * np.pi * 0.3 * t)
    tone = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / 16000) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def machine(device: torch.device) -> dict[str, Any]:
    """The device's name and torch's CPU thread count."""
    name = str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)
    return {"device": name, "threads": torch.get_num_threads()}


def peak_memory(device: torch.device) -> dict[str, Any]:
    """The process's peak resident memory, and on a GPU the peak torch allocated there (MiB)."""
    figures: dict[str, Any] = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        figures["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return figures


def print_figures(result: dict[str, Any], as_json: bool) -> None:
    """One JSON line, or one aligned ``name: value`` line per figure."""
    if as_json:
        print(json.dumps(result))
    else:
        width = max(map(len, result), default=0)
        for key, value in result.items():
            print(f"{key:>{width}}: {value}")
