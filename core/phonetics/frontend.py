"""recognize_phones / align_phones / phones_for: the front end's public operations."""

from __future__ import annotations

import numpy as np

from core.audio import SAMPLE_RATE
from core.phonetics import sphinx
from core.phonetics.fit import NO_PATH, Verdict, judge
from core.phonetics.lts import letter_to_sound
from core.phonetics.pauses import mark_pauses, quiet_runs, shift, snap_onsets, speech_span
from core.phonetics.segments import SIL, PhoneSegment, tile
from core.phonetics.text import Slot, transcript_slots

# Relative phone durations for splitting a recognized word, by class (typical English durations:
# long vowels and diphthongs outlast short vowels; strong fricatives and affricates outlast stops,
# nasals, weak fricatives and glides). With the 1000-HMM word search and no alignment pass, this
# split scores exact 0.567 / ±1 frame 0.723 on the StyleTalk samples, equal shares 0.552 / 0.708.
PHONE_WEIGHT: dict[str, float] = {
    **dict.fromkeys(["AH", "IH", "UH", "EH"], 1.0),
    **dict.fromkeys(["AA", "AE", "AO", "AW", "AY", "EY", "IY", "OW", "OY", "UW", "ER"], 1.6),
    **dict.fromkeys(["P", "B", "T", "D", "K", "G", "M", "N", "NG"], 0.9),
    **dict.fromkeys(["CH", "JH", "S", "Z", "SH", "ZH", "F"], 1.3),
    **dict.fromkeys(["V", "TH", "DH", "HH", "L", "R", "W", "Y"], 0.8),
}


def _duration(audio: np.ndarray) -> float:
    return len(audio) / SAMPLE_RATE


def _is_silent(audio: np.ndarray) -> bool:
    return audio.size == 0 or float(np.max(np.abs(audio))) < 1e-3


def recognize_phones(audio: np.ndarray, refine: bool = True) -> list[PhoneSegment]:
    """Phones from the audio alone, tiling the clip.

    Words are recognized with the language model, and their dictionary phones aligned to the audio
    in a second pass (``refine``, about 0.04 x real time more); without it, or when that alignment
    fails, each word's phones share its time span in proportion to typical phone durations. Even a
    wrong word usually sounds like the right one, so this beats phone-loop recognition by far.
    """
    audio = np.asarray(audio, np.float32)
    if _is_silent(audio):
        return tile([], _duration(audio))
    speech = sphinx.recognize_words(audio, align=refine)
    phones = speech.phones
    if phones is None:
        phones = [seg for _, word_phones, start, end in speech.words for seg in split_word(word_phones, start, end)]
    return tile(mark_pauses(phones, audio), _duration(audio))


def split_word(phones: list[str], start: float, end: float) -> list[PhoneSegment]:
    """Share a word's time span among its phones in proportion to their typical durations."""
    weights = [PHONE_WEIGHT.get(p, 1.0) for p in phones]
    total = sum(weights)
    out: list[PhoneSegment] = []
    t = start
    for phone, w in zip(phones, weights, strict=True):
        step = (end - start) * w / total
        out.append(PhoneSegment(phone, t, t + step))
        t += step
    return out


def align_phones(audio: np.ndarray, transcript: str, refine: bool = True) -> tuple[list[PhoneSegment], list[str]]:
    """Force-align a transcript to the audio: (phones, warnings).

    Numbers, abbreviations and acronyms are read the way the audio says them (see
    :mod:`core.phonetics.text`); words missing from the dictionary are spelled by letter-to-sound
    rules (with a warning); a transcript that does not fit the audio falls back to recognition
    (with a one-line warning saying why; ``refine`` as for :func:`recognize_phones`).
    """
    audio = np.asarray(audio, np.float32)
    slots = transcript_slots(transcript)
    if _is_silent(audio):
        warnings = ["the audio is silent; the transcript was ignored"] if slots else []
        return tile([], _duration(audio)), warnings
    slots, spelled = _dictionary_slots(slots)
    if not slots:
        return recognize_phones(audio, refine), ["the transcript has no words; phones were recognized from the audio"]
    a, b = speech_span(audio)
    speech = audio[a:b]
    words = _spoken_words(speech, slots)
    guessed = ", ".join(sorted(spelled.intersection(words)))
    warnings = [f"not in the pronunciation dictionary, spelled by letter-to-sound rules: {guessed}"] if guessed else []
    aligned = sphinx.align(speech, words)
    verdict = judge(aligned, sphinx.recognize(speech), speech, a / SAMPLE_RATE) if aligned else Verdict(False, NO_PATH)
    if not verdict.fits:
        warnings.append(f"the transcript does not match the audio ({verdict.reason}); phones were recognized instead")
        return recognize_phones(audio, refine), warnings
    assert aligned is not None
    phones = mark_pauses(snap_onsets([p.segment for p in aligned], speech), speech)
    return tile(shift(phones, a / SAMPLE_RATE), _duration(audio)), warnings


def _spoken_words(audio: np.ndarray, slots: list[Slot]) -> list[str]:
    """The words said: each slot's reading chosen by the audio where there is a choice."""
    if all(len(slot) == 1 for slot in slots):
        return [w for slot in slots for w in slot[0]]
    chosen = sphinx.choose(audio, slots)
    return chosen if chosen else [w for slot in slots for w in slot[0]]


def phones_for(audio: np.ndarray, transcript: str | None, refine: bool = True) -> tuple[list[PhoneSegment], list[str]]:
    """Forced alignment when a transcript is given, recognition otherwise; (phones, warnings).

    ``refine=False`` skips the phone alignment pass of recognition (faster, less exact timing).
    """
    if transcript is not None and transcript.strip():
        return align_phones(audio, transcript, refine)
    phones = recognize_phones(audio, refine)
    return phones, _recognition_warnings(phones, audio)


def _recognition_warnings(phones: list[PhoneSegment], audio: np.ndarray) -> list[str]:
    """Warn when the clip is loud for a good while but hardly any phone was recognized in it."""
    duration = _duration(audio)
    if duration == 0.0 or _is_silent(audio):
        return []
    loud = duration - sum(end - start for start, end in quiet_runs(audio))
    spoken = sum(s.end - s.start for s in phones if s.phone != SIL)
    if loud > 0.5 and spoken < 0.25 * loud:
        return ["little speech was recognized in the audio (not English speech?); the animation may be poor"]
    return []


def _dictionary_slots(slots: list[Slot]) -> tuple[list[Slot], set[str]]:
    """Readings the aligner can say, and the words among them spelled by letter-to-sound rules: a
    word missing from the dictionary is spelled by the rules ("Prof." may be "prof"); a reading with a
    word they cannot spell is dropped, or, when its slot has no other, kept without that word."""
    out: list[Slot] = []
    guessed: set[str] = set()
    for slot in slots:
        spelled = {w: _spell(w) for reading in slot for w in reading if sphinx.lookup(w) is None}
        sayable = tuple(r for r in slot if all(spelled.get(w, True) for w in r))
        if not sayable:
            rest = tuple(w for w in slot[0] if spelled.get(w, True))
            sayable = (rest,) if rest else ()
        if sayable:
            out.append(sayable)
        guessed |= {w for r in sayable for w in r if w in spelled}
    return out, guessed


def _spell(word: str) -> bool:
    """Add ``word`` to the aligner's dictionary by letter-to-sound rules; False when they cannot."""
    phones = letter_to_sound(word)
    if phones:
        sphinx.add_word(word, phones)
    return bool(phones)
