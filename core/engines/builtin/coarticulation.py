"""Blend per-phone targets over time with dominance functions (Cohen–Massaro co-articulation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.engines.builtin.visemes import BILABIALS, LABIODENTALS, PARAMS, REST, P, viseme_for
from core.phonetics.segments import PhoneSegment

CORE_FRACTION = 0.6
"""Share of a phone's duration (centred) over which its dominance is at full strength."""
CONTACT_RAMP_IN = 0.020
CONTACT_RAMP_OUT = 0.020
CONTACT_SHRINK = 0.010
"""The contact is held over the phone less this much at each end (alignments are not that exact)."""
MIN_CONTACT_HOLD = 0.04
CONTACT_SEARCH = 0.03
"""Seconds around a contact phone searched for its acoustic closure."""
MIN_CONTACT_DIP = 8.0
"""dB the formant band must fall for a contact to be believed (a phone recognizer errs)..."""
DIP_SHARE_OF_ROOM = 0.25
LEAST_CONTACT_DIP = 4.0
"""... or, where noise fills the closures, this share of the room the band has above the noise floor
there, but never less than LEAST_CONTACT_DIP."""

CONTACT_DEPTH = 0.85
"""The contact spans the part of the dip deeper than this fraction of its deepest point (with the
20 ms ramps: a wider span or longer ramps reach into the neighbouring vowels and shut them)."""
CONTACT_JAW_DROP = 0.5
"""Share of the jaw opening given up during a bilabial closure."""
LABIODENTAL_CLOSE = 0.4
"""How far f/v bring the lips together (the lower lip meets the teeth, not the upper lip)."""

UNHEARD_CLOSE = 0.3
"""Without phones aligned to a transcript, how far a bilabial's viseme alone brings the lips together:
they shut only over a closure the sound shows (the contact), not wherever a recognized p/b/m's
dominance reaches (into the vowels around it, when the recognizer times it early or late)."""

OPEN_JAW_FLOOR = 0.25
"""Jaw opening held while the voice carries strong formants."""
SPEECH_JAW_FLOOR = 0.14
LIPS_APART_FLOOR = 0.3
"""Jaw and lower-lip opening held while speaking: in running speech only contacts close the lips."""


DipFn = Callable[[np.ndarray], np.ndarray]
"""times → dB the formant band sits below its local peak (see prosody.Prosody.dip)."""


def _raised_cosine_window(t: np.ndarray, a: float, b: float, ramp_in: float, ramp_out: float) -> np.ndarray:
    """1 on [a, b], cosine ramps of the given lengths outside, 0 beyond."""
    w = np.zeros_like(t)
    w[(t >= a) & (t <= b)] = 1.0
    rise = (t > a - ramp_in) & (t < a)
    w[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - (a - ramp_in)) / ramp_in)
    fall = (t > b) & (t < b + ramp_out)
    w[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - b) / ramp_out)
    return w


def blend(
    segments: Sequence[PhoneSegment],
    times: np.ndarray,
    lead: float,
    frame_period: float,
    dip: DipFn | None = None,
    room: DipFn | None = None,
    trust_phones: bool = False,
) -> np.ndarray:
    """Articulatory parameters (T, len(PARAMS)) at ``times`` (seconds).

    Each segment pulls every articulator toward its viseme target with an exponential dominance
    around its core; the weighted mean of the targets is the blend. Each phone starts ``lead``
    seconds before its sound (the articulators get there first) and ends with it. Bilabial
    closure and labiodental contact are then enforced over each such phone, held for at least
    ``MIN_CONTACT_HOLD`` and one frame so that no frame rate can step over them. With ``dip``, a
    contact is placed where the sound actually drops near the phone, and dropped where it does not
    (a dip of MIN_CONTACT_DIP, or less where ``room``, the band's dB above its noise floor, is
    small) unless ``trust_phones`` (phones aligned to a transcript that fits: the closure is there
    even when noise hides its dip); without ``trust_phones`` the lips shut only over such contacts.
    """
    times = np.asarray(times, dtype=np.float64)
    k = len(PARAMS)
    num = np.zeros((times.size, k))
    # a faint resting claim everywhere, so gaps between segments relax to rest
    den = np.full((times.size, k), 1e-3)
    horizon = 0.6
    for seg in segments:
        vis = viseme_for(seg.phone)
        a, b = seg.start - lead, seg.end
        if b <= a:
            continue
        margin = 0.5 * (1.0 - CORE_FRACTION) * (b - a)
        ca, cb = a + margin, b - margin
        lo, hi = np.searchsorted(times, [a - horizon, b + horizon])
        if lo >= hi:
            continue
        t = times[lo:hi, None]
        tau_b = np.asarray(vis.tau_before)[None, :]
        tau_a = np.asarray(vis.tau_after)[None, :]
        d = np.where(t < ca, np.exp(-(ca - t) / tau_b), np.where(t > cb, np.exp(-(t - cb) / tau_a), 1.0))
        dom = d * np.asarray(vis.alpha)[None, :]
        num[lo:hi] += dom * np.asarray(vis.target)[None, :]
        den[lo:hi] += dom
    params = num / den
    if dip is not None and not trust_phones:  # recognized phones: the lips shut over heard closures only
        for name in ("close", "press"):
            params[:, P[name]] = np.minimum(params[:, P[name]], UNHEARD_CLOSE)
    _enforce_contacts(params, segments, times, frame_period, dip, room, trust_phones)
    return params


def _contact_span(
    seg: PhoneSegment, dip: DipFn | None, room: DipFn | None, trust_phones: bool
) -> tuple[float, float] | None:
    """When the lips should touch for a contact phone; None when the audio shows no closure.

    The lips meet as the sound stops, so contacts do not lead the sound.
    """
    shrink = min(CONTACT_SHRINK, 0.25 * (seg.end - seg.start))
    a, b = seg.start + shrink, seg.end - shrink
    if dip is None:
        return a, b
    grid = np.arange(seg.start - CONTACT_SEARCH, seg.end + CONTACT_SEARCH, 0.005)
    depth = dip(grid)
    k = int(np.argmin(depth))
    needed = MIN_CONTACT_DIP
    if room is not None:
        needed = float(np.clip(DIP_SHARE_OF_ROOM * room(grid[k : k + 1])[0], LEAST_CONTACT_DIP, MIN_CONTACT_DIP))
    if depth[k] > -needed:
        return (a, b) if trust_phones else None
    inside = depth <= CONTACT_DEPTH * depth[k]  # the dip's deep part, around its deepest point
    before, after = inside[k::-1], inside[k:]
    lo = k + 1 - (int(np.argmin(before)) if not before.all() else before.size)
    hi = k + (int(np.argmin(after)) if not after.all() else after.size)
    return float(grid[lo]), float(grid[hi - 1])


def _enforce_contacts(
    params: np.ndarray,
    segments: Sequence[PhoneSegment],
    times: np.ndarray,
    frame_period: float,
    dip: DipFn | None,
    room: DipFn | None,
    trust_phones: bool,
) -> None:
    """Make bilabials close the lips and labiodentals tuck the lower lip, over the acoustic closure
    (or the phone itself without ``dip``)."""
    hold = max(MIN_CONTACT_HOLD, 1.05 * frame_period)
    for seg in segments:
        ph = seg.phone.upper().rstrip("012")
        if ph not in BILABIALS and ph not in LABIODENTALS:
            continue
        span = _contact_span(seg, dip, room, trust_phones)
        if span is None:
            continue
        a, b = span
        if b - a < hold:
            mid = 0.5 * (a + b)
            a, b = mid - hold / 2, mid + hold / 2
        lo, hi = np.searchsorted(times, [a - CONTACT_RAMP_IN, b + CONTACT_RAMP_OUT])
        if lo >= hi:
            continue
        w = _raised_cosine_window(times[lo:hi], a, b, CONTACT_RAMP_IN, CONTACT_RAMP_OUT)
        target = np.asarray(viseme_for(ph).target)
        block = params[lo:hi]
        if ph in BILABIALS:
            for name in ("close", "press"):
                i = P[name]
                block[:, i] = np.maximum(block[:, i], w * target[i])
            block[:, P["jaw"]] *= 1.0 - CONTACT_JAW_DROP * w
        else:  # lower lip up under the upper teeth: a nearly closed, tucked lip
            for name in ("roll_lower", "upper_up"):
                i = P[name]
                block[:, i] = np.maximum(block[:, i], w * target[i])
            block[:, P["jaw"]] = (1.0 - w) * block[:, P["jaw"]] + w * target[P["jaw"]]
            block[:, P["close"]] = np.maximum(block[:, P["close"]], LABIODENTAL_CLOSE * w)


def open_for_speech(params: np.ndarray, openness: np.ndarray, speaking: np.ndarray) -> None:
    """Keep the mouth open where the sound says it is open (``openness`` 0..1 per frame, from the
    formant band): lips cannot be shut, nor the jaw closed, in the middle of a loud vowel; and while
    speaking outside a closure (``speaking`` 0..1) the lips stay parted unless a contact closes them."""
    floor = np.maximum(OPEN_JAW_FLOOR * openness, SPEECH_JAW_FLOOR * speaking)
    params[:, P["jaw"]] = np.maximum(params[:, P["jaw"]], floor)
    params[:, P["lower_down"]] = np.maximum(params[:, P["lower_down"]], LIPS_APART_FLOOR * speaking)
    for name in ("close", "press", "roll_lower"):
        params[:, P[name]] *= 1.0 - openness


def fill_voiced_silence(
    segments: Sequence[PhoneSegment], speaking: Callable[[np.ndarray], np.ndarray], min_length: float = 0.06
) -> list[PhoneSegment]:
    """Replace the spoken stretches of silence segments (≥ ``min_length``) with a neutral ``VOICED``
    viseme, so that speech the recognizer missed (or a language it does not know) still moves the jaw."""
    out: list[PhoneSegment] = []
    for seg in segments:
        if viseme_for(seg.phone) is not REST or seg.end - seg.start < min_length:
            out.append(seg)
            continue
        grid = np.arange(seg.start, seg.end, 0.01)
        on = np.concatenate([[False], speaking(grid) > 0.5, [False]])
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        t = seg.start
        for i0, i1 in zip(edges[::2], edges[1::2], strict=True):
            a, b = float(grid[i0]), min(float(grid[i1 - 1]) + 0.01, seg.end)
            if b - a < min_length:
                continue
            if a > t:
                out.append(PhoneSegment(seg.phone, t, a))
            out.append(PhoneSegment("VOICED", a, b))
            t = b
        if seg.end > t:
            out.append(PhoneSegment(seg.phone, t, seg.end))
    return out
