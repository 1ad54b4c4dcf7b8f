"""StyleTalk (Ma et al., AAAI 2023) on the BFM 3DMM: style clip + phonemes → expression."""

from core.engines.styletalk.engine import StyleTalkEngine, load_styletalk

__all__ = ["StyleTalkEngine", "load_styletalk"]
