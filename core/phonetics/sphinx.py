"""pocketsphinx decoders at 100 frames per second: word recognition with phone alignment, forced
alignment of a transcript, and phone-loop recognition (the yardstick for whether a transcript fits).

Decoders load once per process (about half a second each) and are shared behind a lock, since a
pocketsphinx decoder is not re-entrant. A decode of a clip of FORK_FROM_S or longer runs in a forked
child on a copy of the decoder (core.forked): Ctrl-C ends it at once, and the shared decoder is never
left half-way through an utterance; the results are the same as in this process.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from core.audio import SAMPLE_RATE
from core.errors import ModelMissingError
from core.forked import run_forked
from core.phonetics.segments import PhoneSegment, normalize_phone

if TYPE_CHECKING:
    from pocketsphinx import Decoder

FRAME_RATE = 100.0  # pocketsphinx frames per second
_LOG_BASE = math.log(1.0001)  # pocketsphinx scores are logarithms in base 1.0001

# Phone-loop recognition with the phone bigram LM (used to check that a transcript fits the audio).
# A low language weight lets the acoustics speak: on 4 StyleTalk sample clips lw 2 agrees with the
# labels on 0.378 of frames against 0.335 for the default 6.5 (lw 1: 0.377, 3: 0.376, 10: 0.306).
ALLPHONE_CONFIG = {"lw": 2.0}
# Word recognition with the en-us trigram LM, first pass only, at most 400 active HMMs and 10 word
# exits per frame, then a phone alignment pass over the recognized words. StyleTalk label agreement
# on the 11 sample clips (exact / ±1 frame) and CPU time per audio second on this 2-core machine:
#   max HMMs 1000 + phone alignment   0.644 / 0.762   0.136
#   max HMMs  600 + phone alignment   0.632 / 0.746   0.119
#   max HMMs  400 + phone alignment   0.618 / 0.729   0.102   <- this config, within the 0.1 budget
#   max HMMs 1000, phones split       0.567 / 0.723   0.102   (no alignment pass)
#   phone loop (allphone, lw 2)       0.484 / 0.552   0.05
#   phone loop (allphone, defaults)   0.397 / 0.519   0.07
# On 4 of the clips the full default search (flat pass, lattice) scores 0.573 / 0.754 at 0.46, the
# same words as the first pass alone (0.568 / 0.749 at 0.41). Even a misrecognized word usually
# sounds like the right one, so its dictionary phones beat a phone loop by far.
WORD_CONFIG: dict[str, object] = {"fwdflat": False, "bestpath": False, "maxhmmpf": 400, "maxwpf": 10}
# Forced alignment lets silence in before, between and after the words (fillers), so room tone
# before and after the speech and pauses the transcript does not mark never stretch a phone; the
# only filler is silence (no noise or speech-like fillers that could swallow words that are not
# there). Without fillers the search fails or squeezes the words into the padding; it is tried
# only when the search with fillers finds no path.
SILENCE_FILLERS = Path(__file__).with_name("silence.dict")
ALIGN_CONFIGS: tuple[dict[str, object], ...] = (
    {"fsgusefiller": True, "bestpath": False, "fdict": str(SILENCE_FILLERS)},
    {"fsgusefiller": False, "bestpath": False},
)
DITHER = 2.0 / 32768.0
"""RMS of the dither added before decoding: pocketsphinx's features break down on digital silence
(exact zeros, as synthesizers and editors write), where the search then finds no path."""

_LOCK = threading.RLock()
T = TypeVar("T")
_WHAT = "speech recognition"  # what a decode that dies without an answer is called in its error
FORK_FROM_S = 4.0
"""Decodes of clips this long or longer run in a forked child, so that Ctrl-C ends them at once; a
shorter one runs here (it holds off a Ctrl-C for under half a second), since a fork costs about 10 ms
per decode: 0.027 x real time on the voices set's 3 s reverberant clips, which take four decodes."""


@dataclass(frozen=True)
class ScoredPhone:
    """A decoded phone and its acoustic score (log base 1.0001, summed over its frames)."""

    segment: PhoneSegment
    score: float


def _model_path(*parts: str) -> str:
    import pocketsphinx

    path = pocketsphinx.get_model_path("/".join(parts))
    return str(path)


@functools.cache
def _allphone_decoder() -> Decoder:
    return _decoder(allphone=_model_path("en-us", "en-us-phone.lm.bin"), lm=None, **ALLPHONE_CONFIG)


@functools.cache
def _word_decoder() -> Decoder:
    return _decoder(
        lm=_model_path("en-us", "en-us.lm.bin"), dict=_model_path("en-us", "cmudict-en-us.dict"), **WORD_CONFIG
    )


_ALIGNERS: dict[int, Decoder] = {}  # attempt → decoder, made on first use
_ADDED_WORDS: dict[str, str] = {}  # letter-to-sound pronunciations added in this process


def _align_decoder(attempt: int = 0) -> Decoder:
    with _LOCK:
        if attempt not in _ALIGNERS:
            config = ALIGN_CONFIGS[attempt]
            d = _decoder(dict=_model_path("en-us", "cmudict-en-us.dict"), lm=None, **config)
            for word, phones in _ADDED_WORDS.items():
                d.add_word(word, phones, True)
            _ALIGNERS[attempt] = d
        return _ALIGNERS[attempt]


def _decoder(**config: object) -> Decoder:
    try:
        import pocketsphinx
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ModelMissingError("pocketsphinx is not installed; run `pip install pocketsphinx`") from exc
    return pocketsphinx.Decoder(hmm=_model_path("en-us", "en-us"), loglevel="FATAL", **config)


def pcm16(audio: np.ndarray) -> bytes:
    """float32 in [-1, 1] → little-endian 16-bit PCM bytes, with a fixed (seeded) dither."""
    x = np.asarray(audio, np.float32) + DITHER * np.random.default_rng(0).standard_normal(len(audio), np.float32)
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _decode(decoder, raw: bytes) -> None:
    decoder.reinit_feat()  # forget noise and CMN statistics of earlier clips: results depend on this clip only
    decoder.start_utt()
    try:
        decoder.process_raw(raw, full_utt=True)
    finally:  # an error (or, without fork, a Ctrl-C) must not leave the decoder inside an utterance
        decoder.end_utt()


def _interruptible(work: Callable[[], T], raw: bytes) -> T:
    """``work()``, a decode of ``raw``: in a forked child when the clip is FORK_FROM_S or longer."""
    if len(raw) >= FORK_FROM_S * SAMPLE_RATE * 2:  # 16-bit samples
        return run_forked(work, _WHAT)
    return work()


def recognize(audio: np.ndarray) -> list[ScoredPhone]:
    """Phone-loop recognition."""
    raw = pcm16(audio)
    with _LOCK:
        d = _allphone_decoder()
        segs = _interruptible(lambda: _phone_loop(d, raw), raw)
    return [
        ScoredPhone(PhoneSegment(normalize_phone(w), a / FRAME_RATE, b / FRAME_RATE), score / _LOG_BASE)
        for w, a, b, score in segs
    ]


def _phone_loop(d, raw: bytes) -> list[tuple[str, int, int, float]]:
    _decode(d, raw)
    # Segment.ascore comes back as a probability; its log is the acoustic score.
    return [(s.word, s.start_frame, s.end_frame + 1, math.log(max(s.ascore, 1e-300))) for s in d.seg() or []]


@dataclass(frozen=True)
class RecognizedSpeech:
    """Words with times, and (when asked for and found) their phones aligned in a second pass."""

    words: list[tuple[str, list[str], float, float]]  # (word, its phones, start s, end s); fillers: ["SIL"]
    phones: list[PhoneSegment] | None


def recognize_words(audio: np.ndarray, align: bool = True) -> RecognizedSpeech:
    """Word recognition, then (with ``align``) phone alignment of the recognized words."""
    raw = pcm16(audio)
    with _LOCK:
        d = _word_decoder()
        words, phones = _interruptible(lambda: _words(d, raw, align), raw)
    return RecognizedSpeech([(w, [normalize_phone(p) for p in ph], a, b) for w, ph, a, b in words], phones)


def _words(d, raw: bytes, align: bool) -> tuple[list[tuple[str, list[str], float, float]], list[PhoneSegment] | None]:
    _decode(d, raw)
    segs = [(s.word, s.start_frame, s.end_frame + 1) for s in d.seg() or []]
    words = [(w, (d.lookup_word(w) or "SIL").split(), a / FRAME_RATE, b / FRAME_RATE) for w, a, b in segs]
    return words, _align_hypothesis(d, raw) if align and segs else None


def _align_hypothesis(d, raw: bytes) -> list[PhoneSegment] | None:
    """Phone alignment of the decoder's current hypothesis (one more pass over the audio)."""
    search = d.current_search()
    try:
        d.set_alignment()
        _decode(d, raw)
        result = d.get_alignment()
        return (
            None
            if result is None
            else [
                PhoneSegment(normalize_phone(p.name), p.start / FRAME_RATE, (p.start + p.duration) / FRAME_RATE)
                for p in result.phones()
            ]
        )
    except RuntimeError:
        return None
    finally:
        d.activate_search(search)


def lookup(word: str) -> str | None:
    """The dictionary pronunciation of a word (space-separated ARPAbet with stress), or None.

    Words added by :func:`add_word` stay unknown here, so every transcript that uses them says so.
    """
    with _LOCK:
        return None if word in _ADDED_WORDS else _align_decoder().lookup_word(word)


def add_word(word: str, phones: list[str]) -> None:
    """Add a pronunciation to the aligner's dictionary for this process (once per word)."""
    with _LOCK:
        if word in _ADDED_WORDS:
            return
        _ADDED_WORDS[word] = " ".join(phones)
        for d in _ALIGNERS.values():
            d.add_word(word, _ADDED_WORDS[word], True)


def choose(audio: np.ndarray, slots: Sequence[Sequence[Sequence[str]]]) -> list[str] | None:
    """The reading of each slot that best fits the audio (one finite-state grammar search over all
    the readings, silence allowed between words); None when no reading path is found."""
    transitions: list[tuple[int, int, float, str]] = []
    state, fresh = 0, 1
    for slot in slots:
        end, fresh = fresh, fresh + 1
        for reading in slot:
            at = state
            for k, word in enumerate(reading):
                to = end if k == len(reading) - 1 else fresh
                fresh += to != end
                transitions.append((at, to, 1.0 / len(slot) if k == 0 else 1.0, word))
                at = to
        state = end
    raw = pcm16(audio)
    with _LOCK:
        d = _align_decoder(0)
        return _interruptible(lambda: _choose(d, raw, state, transitions), raw)


def _choose(d, raw: bytes, final: int, transitions: list[tuple[int, int, float, str]]) -> list[str] | None:
    try:
        d.add_fsg("readings", d.create_fsg("readings", 0, final, transitions))
        d.activate_search("readings")
        _decode(d, raw)
        hyp = d.hyp()
    except (RuntimeError, ValueError):
        return None
    return hyp.hypstr.split() if hyp is not None and hyp.hypstr else None


def align(audio: np.ndarray, words: list[str]) -> list[ScoredPhone] | None:
    """Force-align dictionary words to the audio; None when no search finds a path."""
    raw = pcm16(audio)
    for attempt in range(len(ALIGN_CONFIGS)):
        result = _align_once(_align_decoder(attempt), raw, words)
        if result is not None:
            return result
    return None


def _align_once(d, raw: bytes, words: list[str]) -> list[ScoredPhone] | None:
    with _LOCK:
        entries = _interruptible(lambda: _alignment(d, raw, words), raw)
    if not entries or entries[-1][2] == 0:
        return None
    return [
        ScoredPhone(PhoneSegment(normalize_phone(name), a / FRAME_RATE, b / FRAME_RATE), float(score))
        for name, a, b, score in entries
    ]


def _alignment(d, raw: bytes, words: list[str]) -> list[tuple[str, int, int, float]] | None:
    try:
        d.set_align_text(" ".join(words))
        _decode(d, raw)
        if d.hyp() is None:
            return None
        d.set_alignment()
        _decode(d, raw)
        result = d.get_alignment()
    except RuntimeError:
        return None
    return None if result is None else [(p.name, p.start, p.start + p.duration, p.score) for p in result.phones()]
