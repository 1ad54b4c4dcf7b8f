"""Every model file Mouthpiece reads: its name, its default place under the models folder, and what to
say when it is missing. Torch-free, so the HTTP server and ``mouthpiece models`` can tell where weights
go without loading an engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.paths import models_dir


@dataclass(frozen=True)
class ModelFile:
    """One user-provided model file (or release folder) and where it goes."""

    what: str
    """Whose weights, as messages name them: ``SadTalker weights``."""
    folder: str
    """Sub-folder of the models folder."""
    name: str
    """File (or release folder) name."""
    source: str
    """Where it comes from, or what it holds, for the message."""

    @property
    def layout(self) -> str:
        """Where it goes, relative to the models folder: ``sadtalker/SadTalker_V0.0.2_256.safetensors``."""
        return f"{self.folder}/{self.name}"

    def default_path(self) -> Path:
        """Its place in the models folder (resolved when asked: ``$MOUTHPIECE_MODELS`` may change)."""
        return models_dir() / self.folder / self.name

    def missing_message(self, path: Path | None = None) -> str:
        """The one-line "weights missing" message, saying where to put it (default: :meth:`default_path`)."""
        return f"{self.what} missing: put {self.name} ({self.source}) at {path or self.default_path()}"


EMOTE = ModelFile(
    "EMOTE weights", "emote", "EMOTE_v2", "the release folder, holding cfg.yaml and checkpoints/last.ckpt"
)
STYLETALK = ModelFile(
    "StyleTalk weights", "styletalk", "styletalk_checkpoint.pth", "from the official StyleTalk release"
)
RENDERER = ModelFile("renderer weights", "styletalk", "renderer_checkpoint.pt", "from the official StyleTalk release")
SADTALKER = ModelFile(
    "SadTalker weights", "sadtalker", "SadTalker_V0.0.2_256.safetensors", "the official release's checkpoints/"
)
ENGINE_FILES: dict[str, tuple[ModelFile, ...]] = {
    "builtin": (),
    "emote": (EMOTE,),
    "styletalk": (STYLETALK, RENDERER),
    "sadtalker": (SADTALKER,),
}
"""What each engine needs (StyleTalk's takes become video with the renderer)."""


def weight_layout(engine: str) -> str:
    """Where an engine's files go, relative to the models folder, for ``mouthpiece models``."""
    files = ENGINE_FILES.get(engine, ())
    return " and ".join(f.layout for f in files) if files else "nothing to download"
