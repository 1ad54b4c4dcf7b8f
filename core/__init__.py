"""Mouthpiece core: rigs, tracks, audio, phonetics, engines and renderers (no bpy, no HTTP)."""

__version__ = "0.1.0"
