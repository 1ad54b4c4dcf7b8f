"""Where a take's head motion comes from: the engine's own, SadTalker's PoseVAE, or none (torch-free).

The one rule, for the server, the command line and the pipeline: PoseVAE's motion replaces the head motion
of another engine, which then keeps the head still; the sadtalker engine makes PoseVAE's motion itself. A
pose style means something only where PoseVAE runs.
"""

from __future__ import annotations

from typing import Literal

from core.errors import InputError

HeadMotion = Literal["engine", "sadtalker", "none"]
HEAD_MOTIONS: tuple[HeadMotion, ...] = ("engine", "sadtalker", "none")
POSE_STYLES = 46
"""PoseVAE's pose classes in the SadTalker release (styles 0..45)."""


def adds_posevae(engine: str, head_motion: HeadMotion) -> bool:
    """Whether PoseVAE's motion is added after the engine (an engine that is not SadTalker itself)."""
    return head_motion == "sadtalker" and engine != "sadtalker"


def engine_moves_head(engine: str, head_motion: HeadMotion) -> bool:
    """Whether the engine makes head motion itself (``EngineOptions.extra["head_motion"]``)."""
    return head_motion == "engine" or (head_motion == "sadtalker" and engine == "sadtalker")


def pose_style_applies(engine: str, head_motion: HeadMotion) -> bool:
    """Whether a pose style is used: SadTalker head motion, or the sadtalker engine (its own PoseVAE)."""
    return head_motion == "sadtalker" or engine == "sadtalker"


def parse_pose_style(value: object, num_classes: int = POSE_STYLES) -> int:
    """A pose style id in 0..num_classes-1 from an int or a string of digits."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit() or not 0 <= int(text) < num_classes:
        raise InputError(f"pose style must be an integer in 0..{num_classes - 1}, got {value!r}")
    return int(text)
