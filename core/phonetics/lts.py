"""A small rule-based English letter-to-sound converter for words missing from the dictionary.

Rules are tried longest grapheme first with simple context tests (a following front vowel softens
c/g; vowel + consonant + final e is long). Good enough for lip-sync, where near-misses share visemes.
"""

from __future__ import annotations

VOWELS = set("aeiouy")
FRONT = set("eiy")

# Multi-letter graphemes (longest first at lookup time).
_GRAPHEMES: dict[str, tuple[str, ...]] = {
    "tion": ("SH", "AH", "N"), "sion": ("ZH", "AH", "N"), "ture": ("CH", "ER"), "ough": ("AO",),
    "augh": ("AO",), "eigh": ("EY",), "tch": ("CH",), "dge": ("JH",), "igh": ("AY",), "sch": ("S", "K"),
    "ch": ("CH",), "sh": ("SH",), "th": ("TH",), "ph": ("F",), "wh": ("W",), "ng": ("NG",), "ck": ("K",),
    "qu": ("K", "W"), "kn": ("N",), "wr": ("R",), "gh": (), "mb": ("M",),
    "ee": ("IY",), "ea": ("IY",), "ie": ("IY",), "ei": ("EY",), "oo": ("UW",), "ou": ("AW",),
    "ow": ("OW",), "oa": ("OW",), "oe": ("OW",), "ai": ("EY",), "ay": ("EY",), "oi": ("OY",),
    "oy": ("OY",), "au": ("AO",), "aw": ("AO",), "ew": ("UW",), "ue": ("UW",), "ui": ("UW",),
    "ar": ("AA", "R"), "or": ("AO", "R"), "er": ("ER",), "ir": ("ER",), "ur": ("ER",), "yr": ("ER",),
}  # fmt: skip
_SHORT = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IH"}
_LONG = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_CONSONANTS = {
    "b": ("B",), "d": ("D",), "f": ("F",), "h": ("HH",), "j": ("JH",), "k": ("K",), "l": ("L",),
    "m": ("M",), "n": ("N",), "p": ("P",), "r": ("R",), "s": ("S",), "t": ("T",), "v": ("V",),
    "w": ("W",), "x": ("K", "S"), "z": ("Z",), "q": ("K",),
}  # fmt: skip
_LONGEST = max(map(len, _GRAPHEMES))


def letter_to_sound(word: str) -> list[str]:
    """ARPAbet phones (no stress) for an English-looking word; letters outside a-z are ignored."""
    w = "".join(ch for ch in word.lower() if "a" <= ch <= "z")
    phones: list[str] = []
    i = 0
    while i < len(w):
        for n in range(min(_LONGEST, len(w) - i), 1, -1):
            unit = _GRAPHEMES.get(w[i : i + n])
            if unit is not None:
                phones.extend(unit)
                i += n
                break
        else:
            phones.extend(_letter(w, i))
            i += 1
    return _collapse(phones)


def _letter(w: str, i: int) -> tuple[str, ...]:
    ch = w[i]
    nxt = w[i + 1] if i + 1 < len(w) else ""
    if ch in VOWELS:
        if ch == "e" and i == len(w) - 1 and i > 0:
            return ()  # final silent e
        if ch == "y" and (i == 0 and nxt in VOWELS):
            return ("Y",)
        if ch == "y" and i == len(w) - 1:
            return ("IY",) if VOWELS & set(w[:i]) else ("AY",)
        magic_e = i + 2 == len(w) - 1 and w[-1] == "e" and nxt and nxt not in VOWELS
        open_end = i == len(w) - 1 and (ch == "o" or (ch in "aiu" and len(w) <= 3))
        return (_LONG[ch],) if magic_e or open_end else (_SHORT[ch],)
    if ch == "c":
        return ("S",) if nxt in FRONT else ("K",)
    if ch == "g":
        return ("JH",) if nxt in FRONT and i + 1 < len(w) - 1 else ("G",)
    return _CONSONANTS.get(ch, ())


def _collapse(phones: list[str]) -> list[str]:
    """Doubled letters give one phone ("ll" → L)."""
    out: list[str] = []
    for p in phones:
        if not out or out[-1] != p:
            out.append(p)
    return out
