"""Speech with known phone timings from libespeak-ng (ctypes), for tests and benchmarks.

espeak-ng runs in AUDIO_OUTPUT_SYNCHRONOUS mode with phoneme events in IPA; a synth callback
collects the 16-bit samples and the events (``audio_position`` in ms). IPA phonemes are mapped to
ARPAbet; espeak emits an unvoiced stop's event after its closure silence, so stop onsets are moved
back to the start of that silence (the lips close at the closure, which is what lip-sync needs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading

import numpy as np

from core.audio import to_mono_16k
from core.errors import InputError, MouthpieceError
from core.phonetics import PhoneSegment
from core.phonetics.segments import SIL, tile

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1

# IPA as espeak-ng writes it for English → ARPAbet. Multi-phone units split their time equally.
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "ɑːɹ": ("AA", "R"), "ɔːɹ": ("AO", "R"), "oːɹ": ("AO", "R"), "ɛɹ": ("EH", "R"), "ɪɹ": ("IH", "R"),
    "ʊɹ": ("UH", "R"), "aɪɚ": ("AY", "ER"), "aɪə": ("AY", "ER"), "aʊɚ": ("AW", "ER"), "aʊə": ("AW", "ER"),
    "əl": ("AH", "L"), "l̩": ("AH", "L"), "n̩": ("AH", "N"), "m̩": ("AH", "M"), "iə": ("IY", "AH"),
    "ɪə": ("IH", "AH"), "eə": ("EH", "AH"), "ʊə": ("UH", "AH"),
    "aɪ": ("AY",), "aʊ": ("AW",), "eɪ": ("EY",), "oʊ": ("OW",), "əʊ": ("OW",), "ɔɪ": ("OY",),
    "ɑː": ("AA",), "ɑ": ("AA",), "ɒ": ("AA",), "a": ("AE",), "æ": ("AE",), "ʌ": ("AH",), "ɐ": ("AH",),
    "ə": ("AH",), "ɚ": ("ER",), "ɜː": ("ER",), "ɜ": ("ER",), "ɛ": ("EH",), "e": ("EH",), "ɪ": ("IH",),
    "ᵻ": ("IH",), "i": ("IY",), "iː": ("IY",), "ɔː": ("AO",), "ɔ": ("AO",), "o": ("OW",), "oː": ("OW",),
    "ʊ": ("UH",), "u": ("UW",), "uː": ("UW",),
    "tʃ": ("CH",), "dʒ": ("JH",), "b": ("B",), "d": ("D",), "ɡ": ("G",), "g": ("G",), "p": ("P",),
    "t": ("T",), "k": ("K",), "ɾ": ("T",), "ʔ": ("T",), "f": ("F",), "v": ("V",), "θ": ("TH",),
    "ð": ("DH",), "s": ("S",), "z": ("Z",), "ʃ": ("SH",), "ʒ": ("ZH",), "h": ("HH",), "x": ("HH",),
    "m": ("M",), "n": ("N",), "ŋ": ("NG",), "l": ("L",), "ɫ": ("L",), "ɹ": ("R",), "r": ("R",),
    "w": ("W",), "j": ("Y",),
}  # fmt: skip
_IGNORED_MARKS = "ˈˌ‿ ̃"
_STOPS_WITH_SILENT_CLOSURE = frozenset({"P", "T", "K", "CH"})


def ipa_to_arpabet(ipa: str) -> list[str]:
    """Greedy longest-match conversion of an espeak IPA phoneme name; unknown characters are skipped."""
    s = "".join(ch for ch in ipa if ch not in _IGNORED_MARKS)
    out: list[str] = []
    i = 0
    longest = max(map(len, IPA_TO_ARPABET))
    while i < len(s):
        for n in range(min(longest, len(s) - i), 0, -1):
            unit = IPA_TO_ARPABET.get(s[i : i + n])
            if unit is not None:
                out.extend(unit)
                i += n
                break
        else:
            i += 1
    return out


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_LOCK = threading.Lock()


class _Espeak:
    """The process-wide espeak-ng instance (the library keeps global state)."""

    def __init__(self, library: str | None = None) -> None:
        name = library or ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as exc:
            raise MouthpieceError("libespeak-ng is not installed; install it with `apt-get install espeak-ng`") from exc
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options)
        if self.rate <= 0:
            raise MouthpieceError("libespeak-ng failed to initialise (is espeak-ng-data installed?)")
        self.samples: list[np.ndarray] = []
        self.events: list[tuple[int, int, int, str]] = []  # (type, ms, text position, phoneme)
        self._callback = _Callback(self._on_synth)  # keep a reference: espeak holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav: ctypes.Array, n: int, events: ctypes.Array) -> int:
        if n > 0:
            self.samples.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            name = bytes(e.id.string).split(b"\0")[0].decode("utf-8", "replace") if e.type == _EVENT_PHONEME else ""
            self.events.append((e.type, e.audio_position, e.text_position, name))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate: int) -> tuple[np.ndarray, list[tuple[int, int, int, str]]]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise InputError(f"espeak-ng has no voice named '{voice}'")
        self.lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        self.samples, self.events = [], []
        data = text.encode("utf-8") + b"\0"
        err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise MouthpieceError(f"espeak-ng could not synthesize the text (error {err})")
        self.lib.espeak_Synchronize()
        pcm = np.concatenate(self.samples) if self.samples else np.zeros(0, np.int16)
        return pcm.astype(np.float32) / 32768.0, self.events


@functools.cache
def _espeak() -> _Espeak:
    return _Espeak()


def synthesize(text: str, voice: str = "en-us", rate: int = 160) -> tuple[np.ndarray, list[PhoneSegment]]:
    """Speak ``text``: (16 kHz mono float32 audio, ARPAbet phone segments tiling the clip)."""
    if not text.strip():
        raise InputError("nothing to synthesize: the text is empty")
    with _LOCK:
        engine = _espeak()
        audio, events = engine.synth(text, voice, rate)
        native_rate = engine.rate
    duration = len(audio) / native_rate
    segments = _segments_from_events(events, audio, native_rate, duration)
    return to_mono_16k(audio, native_rate), tile(segments, duration)


def _segments_from_events(
    events: list[tuple[int, int, int, str]], audio: np.ndarray, rate: int, duration: float
) -> list[PhoneSegment]:
    word_start: dict[int, float] = {}
    marks: list[tuple[float, int, str]] = []  # (start s, text position, ipa) in time order
    for kind, ms, pos, name in events:
        if kind == _EVENT_WORD:
            word_start.setdefault(pos, ms / 1000.0)
        elif kind == _EVENT_PHONEME:
            marks.append((ms / 1000.0, pos, name))
    silent = _silent_runs(audio, rate)
    segments: list[PhoneSegment] = []
    seen_words: set[int] = set()
    for k, (start, pos, name) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else duration
        phones = ipa_to_arpabet(name) or [SIL]
        if phones != [SIL] and pos in word_start and pos not in seen_words:
            start = min(start, word_start[pos])  # a word's first phone starts at the word, closure included
            seen_words.add(pos)
        if phones[0] in _STOPS_WITH_SILENT_CLOSURE and segments:
            start = _closure_start(start, segments[-1].start, silent, rate)
        while segments and segments[-1].end > start:  # the previous phone ends where this one starts
            prev = segments.pop()
            if start > prev.start:
                segments.append(PhoneSegment(prev.phone, prev.start, start))
        step = (end - start) / len(phones)
        for j, phone in enumerate(phones):
            segments.append(PhoneSegment(phone, start + j * step, start + (j + 1) * step))
    return segments


def _silent_runs(audio: np.ndarray, rate: int) -> np.ndarray:
    """Per-2 ms block: True where the signal is (near) digital silence."""
    block = max(1, rate // 500)
    n = len(audio) // block
    if n == 0:
        return np.zeros(0, bool)
    rms = np.sqrt(np.mean(audio[: n * block].reshape(n, block) ** 2, axis=1))
    return rms < 0.01 * max(float(rms.max()), 1e-9)


def _closure_start(event: float, prev_start: float, silent: np.ndarray, rate: int) -> float:
    """Walk back from a stop's event through the silence before it (not into the previous phone's onset)."""
    block_s = max(1, rate // 500) / rate
    i = min(int(event / block_s), len(silent)) - 1
    floor = prev_start + 0.02
    while i >= 0 and silent[i] and i * block_s > floor:
        i -= 1
    return max(floor, min(event, (i + 1) * block_s))
