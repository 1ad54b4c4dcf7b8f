"""Transcript normalisation: lower-case words with digits spelled out, as the dictionary spells them."""

from __future__ import annotations

import re

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"), (100, "hundred"))
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|\d+")


def number_words(n: int) -> list[str]:
    """Spell a non-negative integer in English words ("1204" → one thousand two hundred four)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for scale, name in _SCALES:
        if n >= scale:
            rest = n % scale
            return [*number_words(n // scale), name, *(number_words(rest) if rest else [])]
    raise AssertionError("unreachable")


def transcript_words(text: str) -> list[str]:
    """Words of a transcript: lower case, punctuation dropped, apostrophes kept, digits spelled out."""
    words: list[str] = []
    for token in _TOKEN.findall(text.lower().replace("’", "'")):
        words.extend(number_words(int(token)) if token.isdigit() else [token])
    return words
