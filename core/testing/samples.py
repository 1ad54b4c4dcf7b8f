"""Where the shared sample data lives: ``../shared/data`` beside the checkout (see its README)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STYLETALK_SAMPLES = REPO.parent / "shared" / "data" / "styletalk_samples"
"""Real speech clips with StyleTalk's 30 fps phone labels (``phindex.json``, ``source_video/phoneme/``)."""
