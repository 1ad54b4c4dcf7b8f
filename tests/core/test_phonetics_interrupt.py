"""Ctrl-C in the middle of a pocketsphinx decode: it ends the decode, and the shared decoders still give
a fresh decode's results afterwards (no decoder left half-way through an utterance)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from core.phonetics import PhoneSegment, phones_for, recognize_phones
from core.testing.espeak import synthesize
from core.testing.voices import SENTENCES

LONG_TEXT = " ".join(s for s in SENTENCES if not any(c.isdigit() for c in s))[:900]
"""About a minute of speech: its decodes take seconds, so an interrupt a moment in lands inside one."""


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    """A long clip and a short one."""
    return synthesize(LONG_TEXT)[0], synthesize("Bob ate a pie.")[0]


@contextmanager
def ctrl_c_after(seconds: float) -> Iterator[None]:
    """A SIGINT to this process ``seconds`` into the block, as a Ctrl-C would send: a real-time timer's
    SIGALRM (the kernel's, so it fires even while a C call holds the GIL) sends it."""
    previous = signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _children() -> list[str]:
    """The processes this thread has started and not yet reaped."""
    return Path(f"/proc/self/task/{threading.get_native_id()}/children").read_text().split()


@pytest.mark.slow
@pytest.mark.parametrize(
    "decode",
    [
        pytest.param(lambda audio, text: recognize_phones(audio), id="recognition"),
        pytest.param(lambda audio, text: phones_for(audio, text)[0], id="forced-alignment"),
    ],
)
def test_a_decode_after_an_interrupted_one_gives_a_fresh_result(
    speech: tuple[np.ndarray, np.ndarray], decode: Callable[[np.ndarray, str], list[PhoneSegment]]
) -> None:
    long, short = speech
    fresh_short = decode(short, "Bob ate a pie.")  # loads the decoders
    fresh_long = decode(long, LONG_TEXT)
    before = _children()  # other tests' servers may still be running
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.5):
        decode(long, LONG_TEXT)
    assert _children() == before  # the abandoned decode left no process behind
    assert decode(short, "Bob ate a pie.") == fresh_short
    assert decode(long, LONG_TEXT) == fresh_long
