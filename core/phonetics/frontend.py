"""recognize_phones / align_phones / phones_for: the front end's public operations."""

from __future__ import annotations

import numpy as np

from core.audio import SAMPLE_RATE
from core.phonetics import sphinx
from core.phonetics.lts import letter_to_sound
from core.phonetics.pauses import mark_pauses, quiet_runs
from core.phonetics.segments import SIL, PhoneSegment, tile
from core.phonetics.text import transcript_words

# Does a forced alignment fit the audio? Two signs, both against free phone recognition of the same
# audio, outside pauses: the aligned phone equals the recognized one in a share ``agreement`` of
# frames, and the aligner's acoustic score per frame is ``ratio`` times the recognizer's. The fit is
# agreement - 0.1 * ratio. Measured on 16 espeak sentences: matching transcripts 0.04 to 0.40,
# another sentence's transcript -0.18 to -0.70 (or, in most cases, no alignment path at all).
FIT_RATIO_WEIGHT = 0.1
MIN_FIT = -0.07
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

    Words missing from the dictionary are spelled by letter-to-sound rules (with a warning); a
    transcript that does not fit the audio falls back to recognition (with a warning; ``refine``
    as for :func:`recognize_phones`).
    """
    audio = np.asarray(audio, np.float32)
    words = transcript_words(transcript)
    if _is_silent(audio):
        warnings = ["the audio is silent; the transcript was ignored"] if words else []
        return tile([], _duration(audio)), warnings
    words, warnings = _dictionary_words(words)
    if not words:
        warnings.append("the transcript has no words; phones were recognized from the audio")
        return recognize_phones(audio, refine), warnings
    aligned = sphinx.align(audio, words)
    free = sphinx.recognize(audio)
    if aligned is None or _fit(aligned, free, audio) < MIN_FIT:
        warnings.append("the transcript does not match the audio; phones were recognized from the audio instead")
        return recognize_phones(audio, refine), warnings
    return tile(mark_pauses([p.segment for p in aligned], audio), _duration(audio)), warnings


def _fit(aligned: list[sphinx.ScoredPhone], free: list[sphinx.ScoredPhone], audio: np.ndarray) -> float:
    """How well an alignment fits the audio (see MIN_FIT); pauses, which the aligner has to stretch
    phones over when the transcript does not mark them, are left out."""
    n = int(_duration(audio) * sphinx.FRAME_RATE)
    speech = np.ones(n, bool)
    for a, b in quiet_runs(audio):
        speech[int(a * sphinx.FRAME_RATE) : int(b * sphinx.FRAME_RATE)] = False
    a_phone, a_score = _per_frame(aligned, n)
    f_phone, f_score = _per_frame(free, n)
    spoken = speech & (a_phone != SIL)
    if not spoken.any():
        return 0.0
    agreement = float(np.mean(a_phone[spoken] == f_phone[spoken]))
    ratio = float(a_score[speech].mean() / min(f_score[speech].mean(), -1e-9))
    return agreement - FIT_RATIO_WEIGHT * ratio


def _per_frame(phones: list[sphinx.ScoredPhone], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Phone name and score per 10 ms frame (each phone's score spread evenly over its frames)."""
    names = np.full(n, SIL, dtype=object)
    scores = np.zeros(n)
    for p in phones:
        a = round(p.segment.start * sphinx.FRAME_RATE)
        b = min(round(p.segment.end * sphinx.FRAME_RATE), n)
        if b > a:
            names[a:b] = p.segment.phone
            scores[a:b] = p.score / (b - a)
    return names, scores


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


def _dictionary_words(words: list[str]) -> tuple[list[str], list[str]]:
    """Words as the aligner knows them; unknown ones get a letter-to-sound pronunciation."""
    out: list[str] = []
    guessed: list[str] = []
    for word in words:
        if sphinx.lookup(word) is None:
            phones = letter_to_sound(word)
            if not phones:
                continue
            sphinx.add_word(word, phones)
            guessed.append(word)
        out.append(word)
    warnings = []
    if guessed:
        names = ", ".join(sorted(set(guessed)))
        warnings.append(f"not in the pronunciation dictionary, spelled by letter-to-sound rules: {names}")
    return out, warnings
