"""The built-in engine (DESIGN §4): pocketsphinx phones → ARKit visemes, emotion, blinks, head motion."""

from core.engines.builtin.engine import BuiltinEngine

__all__ = ["BuiltinEngine"]
