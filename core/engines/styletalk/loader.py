"""Loading a StyleTalk checkpoint (``model_state_dict``) into :class:`StyleTalkNet`, strictly and safely."""

from __future__ import annotations

from pathlib import Path

from core.checkpoints import check_state_dict, listed, load_weights_file, shapes_of, tensor_entry
from core.engines.styletalk.config import config_from_state_dict
from core.engines.styletalk.model import StyleTalkNet
from core.errors import InputError, ModelFormatError

# The official loader takes these three sub-networks from ``model_state_dict`` and nothing else.
PARTS = ("content_encoder.", "style_encoder.", "decoder.")


def load_styletalk(checkpoint: Path, overrides: dict | None = None) -> tuple[StyleTalkNet, list[str]]:
    """Build the net from the checkpoint's shapes and load it strictly, naming any key mismatch.

    Keys outside the three sub-networks are ignored, as the official loader does, and reported in
    the returned notes; anything pickled beside the weights (a yacs config) is never run.
    """
    ckpt = load_weights_file(checkpoint, "StyleTalk checkpoint")
    every = tensor_entry(ckpt, "model_state_dict", checkpoint, "StyleTalk checkpoint")
    state = {k: v for k, v in every.items() if k.startswith(PARTS)}
    ignored = sorted(set(every) - set(state))
    outside = listed("tensors outside the StyleTalk network", ignored)
    notes = [f"{checkpoint.name}: ignored {outside}"] if ignored else []
    try:
        cfg = config_from_state_dict(state, overrides)
    except InputError as exc:
        raise ModelFormatError(f"{checkpoint.name}: {exc}") from None
    net = StyleTalkNet(cfg)
    check_state_dict(shapes_of(net), state, checkpoint.name, "StyleTalk")
    net.load_state_dict(state, strict=True)
    return net.eval(), notes
