"""Articulatory parameters → ARKit mouth and jaw channels."""

from __future__ import annotations

import numpy as np

from core.engines.builtin.visemes import P

SPEECH_CHANNELS: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthRollLower", "mouthRollUpper", "mouthUpperUpLeft", "mouthUpperUpRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthShrugUpper", "tongueOut",
)  # fmt: skip
"""The channels speech drives; emotion overlays yield to them on the lips."""


def mouth_channels(params: np.ndarray) -> dict[str, np.ndarray]:
    """ARKit curves from articulatory parameters (T, K).

    ``mouthClose`` follows ARKit's meaning (lips together whatever the jaw does), so a closure is
    ``mouthClose = close * jawOpen``; everything that parts the lips yields to the closure.
    """
    jaw = params[:, P["jaw"]]
    close = np.clip(params[:, P["close"]], 0.0, 1.0)
    apart = 1.0 - close
    funnel = params[:, P["funnel"]]
    pucker = params[:, P["pucker"]]
    spread = params[:, P["spread"]] * (1.0 - np.clip(2.0 * (funnel + pucker), 0.0, 1.0))
    roll = params[:, P["roll_lower"]]
    upper = params[:, P["upper_up"]] * apart
    lower = params[:, P["lower_down"]] * apart * (1.0 - roll)
    press = params[:, P["press"]]
    return {
        "jawOpen": jaw,
        "mouthClose": close * jaw,
        "mouthFunnel": funnel * apart,
        "mouthPucker": pucker,
        "mouthStretchLeft": 0.6 * spread,
        "mouthStretchRight": 0.6 * spread,
        "mouthSmileLeft": 0.25 * spread,
        "mouthSmileRight": 0.25 * spread,
        "mouthRollLower": roll,
        "mouthRollUpper": 0.25 * close * press,
        "mouthUpperUpLeft": upper,
        "mouthUpperUpRight": upper,
        "mouthLowerDownLeft": lower,
        "mouthLowerDownRight": lower,
        "mouthPressLeft": press,
        "mouthPressRight": press,
        "mouthShrugUpper": 0.3 * roll,
        "tongueOut": params[:, P["tongue"]],
    }


def lip_activity(params: np.ndarray) -> np.ndarray:
    """0..1: how much the lips are busy with a closure, rounding or teeth contact."""
    act = params[:, P["close"]] + 1.5 * (params[:, P["funnel"]] + params[:, P["pucker"]]) + params[:, P["roll_lower"]]
    return np.clip(act, 0.0, 1.0)
