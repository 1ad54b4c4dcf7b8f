"""Transcript normalisation for alignment: the words a reader says for what is written.

A transcript becomes a list of *slots*; each slot holds the ways one written token may be spoken,
most likely first ("1998" → "nineteen ninety eight" or "one thousand nine hundred ninety eight";
"0192" → "oh one nine two" or "zero one nine two"). The aligner chooses among them by the sound.
Numbers are spelled by ``num2words``; abbreviations, letters and acronyms by the tables here.
"""

from __future__ import annotations

import re

from num2words import num2words

Reading = tuple[str, ...]
"""One way of saying a token: lower-case dictionary words."""
Slot = tuple[Reading, ...]
"""The readings of one token, most likely first (no duplicates)."""

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "dr": ("doctor", "drive"), "mr": ("mister",), "mrs": ("missus", "misses"), "ms": ("miz",),
    "st": ("saint", "street"), "jr": ("junior",), "sr": ("senior",), "prof": ("professor", "prof"),
    "mt": ("mount",), "ave": ("avenue",), "rd": ("road",), "blvd": ("boulevard",), "vs": ("versus",),
    "etc": ("et cetera",), "inc": ("incorporated",), "ltd": ("limited",),
    "co": ("company",), "capt": ("captain",), "sgt": ("sergeant",), "lt": ("lieutenant",),
    "gen": ("general",), "dept": ("department",), "approx": ("approximately",), "min": ("minutes",),
    "hr": ("hour",), "hrs": ("hours",), "ft": ("feet", "foot"), "lb": ("pound",), "lbs": ("pounds",),
    "oz": ("ounces",), "km": ("kilometers",), "kg": ("kilograms",), "cm": ("centimeters",),
}  # fmt: skip
"""Written with a full stop ("Dr.", "etc."); the titles below are also recognised without one."""
TITLES = frozenset({"dr", "mr", "mrs", "ms", "st", "jr", "sr"})
LETTERS: dict[str, str] = {c: c for c in "abcdefghijklmnopqrstuvwxyz"}
"""The dictionary spells each letter's name as the letter itself ("b" is B IY)."""
SYMBOLS: dict[str, tuple[str, ...]] = {"&": ("and",), "+": ("plus",), "@": ("at",), "=": ("equals",)}
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
"""Symbol → (unit, units, subunit, subunits)."""
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_CARDINAL = 10**15

_TOKEN = re.compile(
    r"""(?P<money>[$£€]\s?\d[\d,]*(?:\.\d{1,2})?)
    |(?P<time>\b\d{1,2}:\d{2}\b)
    |(?P<ordinal>\b\d+(?:st|nd|rd|th)\b)
    |(?P<percent>\d[\d,]*(?:\.\d+)?\s?%)
    |(?P<decimal>\b\d+\.\d+\b)
    |(?P<grouped>\b\d{1,3}(?:,\d{3})+\b)
    |(?P<digits>\d+)
    |(?P<numero>\bNo\.(?=\s?\d))
    |(?P<dotted>\b(?:[A-Za-z]\.){2,})
    |(?P<abbrev>\b[A-Za-z]+\.)
    |(?P<word>[A-Za-z]+(?:'[A-Za-z]+)*)
    |(?P<symbol>[&+@=#])""",
    re.VERBOSE,
)


def _words(text: str) -> Reading:
    """num2words output ("twenty-two, and ...") as dictionary words."""
    return tuple(re.findall(r"[a-z]+(?:'[a-z]+)*", text.lower()))


def _unique(readings: list[Reading]) -> Slot:
    out: list[Reading] = []
    for r in readings:
        if r and r not in out:
            out.append(r)
    return tuple(out)


def _with_and_without_and(reading: Reading) -> list[Reading]:
    """num2words says "one hundred and five" (British); American readers often drop the "and"."""
    bare = tuple(w for w in reading if w != "and")
    return [bare, reading] if bare and bare != reading else [reading]


def cardinal(n: int) -> list[Reading]:
    """A whole number spoken as a quantity ("205" → two hundred five / two hundred and five)."""
    return _with_and_without_and(_words(num2words(n)))


def digit_by_digit(digits: str) -> list[Reading]:
    """Each digit on its own, zero as "oh" or as "zero" ("0192" → oh one nine two)."""
    zero = tuple("oh" if d == "0" else DIGIT_WORDS[int(d)] for d in digits)
    return [zero, tuple(DIGIT_WORDS[int(d)] for d in digits)]


def year(n: int) -> list[Reading]:
    """A year as people say it ("1998" → nineteen ninety eight, "2005" → two thousand five, "1945" →
    nineteen hundred and forty five too)."""
    out = _with_and_without_and(_words(num2words(n, to="year")))
    if 1100 <= n <= 1999 and n % 100:
        out += _with_and_without_and((*_words(num2words(n // 100)), "hundred", "and", *_words(num2words(n % 100))))
    if 2000 <= n <= 2099 and n % 100:  # "twenty twelve", "twenty oh nine"
        out.append((*_words(num2words(n // 100)), *(("oh",) if n % 100 < 10 else ()), *_words(num2words(n % 100))))
    return out


def hundreds(n: int) -> list[Reading]:
    """Whole hundreds: "1200" as twelve hundred (1100 to 9900 in whole hundreds, not whole thousands)."""
    if 1100 <= n <= 9999 and n % 100 == 0 and n % 1000:
        return [(*_words(num2words(n // 100)), "hundred")]
    return []


def number(digits: str) -> Slot:
    """A written digit string: leading zero → digit by digit; 4 digits that look like a year → year
    first; otherwise the quantity, then digit by digit (phone numbers, codes)."""
    n = int(digits)
    if len(digits) > 1 and digits.startswith("0"):
        return _unique(digit_by_digit(digits))
    if n >= MAX_CARDINAL:
        return _unique(digit_by_digit(digits))
    readings: list[Reading] = []
    if len(digits) == 4 and 1100 <= n <= 2099:
        readings += year(n)
    readings += cardinal(n) + hundreds(n)
    if len(digits) >= 2:
        readings += digit_by_digit(digits)
        if len(digits) == 4 and n % 100 >= 10:  # "1234" as twelve thirty four
            readings.append((*_words(num2words(n // 100)), *_words(num2words(n % 100))))
    return _unique(readings)


def ordinal(n: int) -> Slot:
    """ "14th" → fourteenth; "101st" → one hundred first / one hundred and first."""
    return _unique(_with_and_without_and(_words(num2words(n, to="ordinal"))))


def clock(hours: int, minutes: int) -> Slot:
    """ "9:15" → nine fifteen; "9:05" → nine oh five / nine zero five / nine five; "9:00" → nine o'clock /
    nine / nine hundred."""
    h = _words(num2words(hours))
    if minutes == 0:
        return _unique([(*h, "o'clock"), h, (*h, "hundred")])
    m = _words(num2words(minutes))
    readings = [(*h, "oh", *m), (*h, "zero", *m), (*h, *m)] if minutes < 10 else [(*h, *m)]
    if minutes == 30:
        readings.append(("half", "past", *h))
    if minutes in (15, 45):
        quarter = ("quarter", "past", *h) if minutes == 15 else ("quarter", "to", *_words(num2words(hours % 12 + 1)))
        readings.append(quarter)
    return _unique(readings)


def money(symbol: str, amount: str) -> Slot:
    """ "$5" → five dollars; "$5.50" → five dollars fifty cents / five dollars and fifty cents / five fifty."""
    unit, units, sub, subs = CURRENCIES[symbol]
    whole_s, _, frac_s = amount.replace(",", "").partition(".")
    whole, frac = int(whole_s), int(frac_s.ljust(2, "0")) if frac_s else 0
    main = (*cardinal(whole)[0], unit if whole == 1 else units)
    cents = (*cardinal(frac)[0], sub if frac == 1 else subs) if frac else ()
    if whole == 0 and frac:
        return _unique([cents])
    readings = [(*main, *cents), (*main, "and", *cents)] if frac else [main]
    if frac:  # "five dollars fifty", "five fifty"
        readings += [(*main, *cardinal(frac)[0]), (*cardinal(whole)[0], *cardinal(frac)[0])]
    return _unique(readings)


def _decimal(text: str) -> list[Reading]:
    whole, _, frac = text.partition(".")
    return [(*r, "point", *digit_by_digit(frac)[1]) for r in cardinal(int(whole))] + [
        (*cardinal(int(whole))[0], "point", *digit_by_digit(frac)[0])
    ]


def letters(text: str) -> Reading:
    """Spelled out, one letter name each ("FBI" → f b i)."""
    return tuple(LETTERS[c] for c in text.lower() if c in LETTERS)


def _token_slot(kind: str, tok: str) -> Slot:
    if kind == "money":
        return money(tok[0], tok[1:].strip())
    if kind == "time":
        h, m = tok.split(":")
        return clock(int(h), int(m))
    if kind == "ordinal":
        return ordinal(int(tok[:-2]))
    if kind == "percent":
        value = tok.rstrip("% ").replace(",", "")
        return _unique([(*r, "percent") for r in (_decimal(value) if "." in value else cardinal(int(value)))])
    if kind == "decimal":
        return _unique(_decimal(tok))
    if kind == "grouped":
        n = int(tok.replace(",", ""))
        return _unique(cardinal(n) + hundreds(n))
    if kind == "digits":
        return number(tok)
    if kind == "dotted":  # "p.m.", "U.S."
        return _unique([letters(tok)])
    if kind == "numero":
        return _unique([("number",)])
    if kind == "symbol":
        return _unique([SYMBOLS[tok]]) if tok in SYMBOLS else _unique([("number",)])
    base = tok.rstrip(".")
    key = base.lower()
    if (kind == "abbrev" or (key in TITLES and base[:1].isupper())) and key in ABBREVIATIONS:
        return _unique([tuple(w.split()) for w in ABBREVIATIONS[key]])
    if len(base) == 1 and base.isupper() and base != "I":
        return _unique([letters(base), (key,)])
    if len(base) >= 2 and base.isupper():  # an acronym: said as a word (NASA) or spelled (FBI)
        return _unique([(key,), letters(base)])
    return _unique([(key.replace("’", "'"),)])


def transcript_slots(text: str) -> list[Slot]:
    """The spoken readings of each token of a transcript, in order; punctuation is dropped."""
    slots: list[Slot] = []
    for match in _TOKEN.finditer(text.replace("’", "'")):
        kind = match.lastgroup or "word"
        slot = _token_slot(kind, match.group())
        if slot:
            slots.append(slot)
    return slots


def transcript_words(text: str) -> list[str]:
    """The most likely reading of a transcript, as one word list."""
    return [w for slot in transcript_slots(text) for w in slot[0]]
