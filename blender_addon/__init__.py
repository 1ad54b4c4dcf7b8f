"""Mouthpiece for Blender: speech-driven face animation from a local Mouthpiece server.

View3D ▸ Sidebar ▸ Mouthpiece. The baking and head-building modules (``head``, ``bake``, ``sound``,
``wire``) take plain arrays and also serve headless runs (``mouthpiece blend``). Importing the package
does not import bpy: the pure modules (``wire``, ``rotations``, ``client``, ``jobs``, ``reduce``) run
anywhere; Blender's own parts load in :func:`register`.
"""

from __future__ import annotations


def _first_check() -> None:
    """Ask the server once after start-up (off the main thread) so the panel's status line is filled in."""
    import bpy

    from .server_link import refresh_server_in_background

    refresh_server_in_background(bpy.context)


def register() -> None:
    import bpy

    from . import operators, panel, properties, server_link

    for module in (properties, server_link, operators, panel):
        module.register()
    if not bpy.app.background:
        bpy.app.timers.register(_first_check, first_interval=1.0)


def unregister() -> None:
    import bpy

    from . import operators, panel, properties, server_link

    if bpy.app.timers.is_registered(_first_check):
        bpy.app.timers.unregister(_first_check)
    for module in (panel, operators, server_link, properties):
        module.unregister()
