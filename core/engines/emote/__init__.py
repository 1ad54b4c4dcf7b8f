"""EMOTE on FLAME: official release folders, emotion/intensity/identity control, any length."""

from core.engines.emote.engine import EmoteEngine

__all__ = ["EmoteEngine"]
