"""Mouthpiece for Blender: speech-driven face animation from a local Mouthpiece server.

View3D ▸ Sidebar ▸ Mouthpiece. The baking and head-building modules (``head``, ``bake``, ``sound``,
``wire``) take plain arrays and also serve headless runs (``mouthpiece blend``).
"""

from __future__ import annotations

import bpy

from . import operators, panel, properties

_MODULES = (properties, operators, panel)


def _first_check() -> None:
    """Ask the server once after start-up (off the main thread) so the panel's status line is filled in."""
    operators.refresh_server_in_background(bpy.context)


def register() -> None:
    for module in _MODULES:
        module.register()
    if not bpy.app.background:
        bpy.app.timers.register(_first_check, first_interval=1.0)


def unregister() -> None:
    if bpy.app.timers.is_registered(_first_check):
        bpy.app.timers.unregister(_first_check)
    for module in reversed(_MODULES):
        module.unregister()
