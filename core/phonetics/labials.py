"""Second opinions on lip closures: the p/b/m that another recognition (the phone loop, or recognition of
the clip with less of its room) hears where word recognition put another consonant.

Without a transcript, word recognition misses many bilabials, most often by their place of articulation
(/b/ heard as /d/, /m/ as /n/, /p/ as /t/), and more so in a reverberant room. The phone loop
(:func:`core.phonetics.sphinx.recognize`) has no words to force a choice and hears a different share of
them: on the voices set, word recognition finds 37% of the bilabials in reverb, the two together 47%.
Another recognition's bilabial is taken where the word path has a consonant a bilabial is confused with,
never over a vowel or a pause; the lips then shut only where the sound stops (the engine's contacts).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.phonetics.segments import PhoneSegment

BILABIALS = frozenset({"P", "B", "M"})
CONFUSED_WITH = frozenset({"T", "D", "K", "G", "N", "NG", "L", "V", "F", "TH", "DH"})
"""Consonants word recognition puts where a bilabial was said (other stops, nasals, laterals and
labiodental or dental fricatives)."""
AGREE_S = 0.06
"""Another recognition's bilabial whose centre is this close to a word-path bilabial's is the same one."""


def add_labials(phones: Sequence[PhoneSegment], other: Sequence[PhoneSegment]) -> list[PhoneSegment]:
    """``phones`` (contiguous) with each bilabial of ``other`` that they lack laid over the consonant at
    its centre, within that consonant's span."""
    out = list(phones)
    have = [(p.start + p.end) / 2 for p in phones if p.phone in BILABIALS]
    for b in other:
        mid = (b.start + b.end) / 2
        if b.phone not in BILABIALS or any(abs(h - mid) < AGREE_S for h in have):
            continue
        i = next((k for k, p in enumerate(out) if p.start <= mid < p.end), None)
        if i is None or out[i].phone not in CONFUSED_WITH:
            continue
        host = out[i]
        a, e = max(b.start, host.start), min(b.end, host.end)
        pieces = [PhoneSegment(host.phone, host.start, a)] if a > host.start else []
        pieces.append(PhoneSegment(b.phone, a, e))
        if e < host.end:
            pieces.append(PhoneSegment(host.phone, e, host.end))
        out[i : i + 1] = pieces
    return out
