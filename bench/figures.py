"""What the benches share: the figures about the machine, and how they are printed (torch only when asked)."""

from __future__ import annotations

import json
import resource
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def machine(device: torch.device) -> dict[str, Any]:
    """The device's name and torch's CPU thread count."""
    import torch

    name = str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)
    return {"device": name, "threads": torch.get_num_threads()}


def peak_memory(device: torch.device) -> dict[str, Any]:
    """The process's peak resident memory, and on a GPU the peak torch allocated there (MiB)."""
    import torch

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
