"""The phonetic front end: audio (16 kHz mono float32) → timed ARPAbet phones, via pocketsphinx.

``phones_for`` is the entry point engines use: forced alignment with a transcript, speech
recognition (words, then their phones aligned) without one. Segments cover the whole clip
contiguously; silence and noise are ``SIL``. ``styletalk_indices`` turns them into StyleTalk's 30 fps
labels; ``python -m bench.phonemes`` measures those against the StyleTalk samples.
"""

from core.phonetics.frontend import align_phones, phones_for, recognize_phones
from core.phonetics.segments import (
    STYLETALK_INDEX,
    STYLETALK_SIL,
    STYLETALK_SYMBOLS,
    PhoneSegment,
    phones_to_frames,
    styletalk_indices,
)

__all__ = [
    "STYLETALK_INDEX",
    "STYLETALK_SIL",
    "STYLETALK_SYMBOLS",
    "PhoneSegment",
    "align_phones",
    "phones_for",
    "phones_to_frames",
    "recognize_phones",
    "styletalk_indices",
]
