"""core.forked: work run in a forked child gives its answer or its error here, and changes nothing here."""

from __future__ import annotations

import os
import signal

import pytest

from core.errors import MouthpieceError
from core.forked import run_forked


def test_the_answer_comes_back_and_the_work_touches_nothing_here() -> None:
    seen: list[int] = []

    def work() -> tuple[int, list[int]]:
        seen.append(os.getpid())
        return os.getpid(), seen

    pid, theirs = run_forked(work, "the work")
    assert pid != os.getpid() and theirs == [pid]
    assert seen == []


def test_an_error_in_the_child_is_raised_here() -> None:
    with pytest.raises(ValueError, match="no path"):
        run_forked(lambda: (_ for _ in ()).throw(ValueError("no path")), "the work")


def test_a_child_that_dies_is_one_clear_error() -> None:
    with pytest.raises(MouthpieceError, match=r"^the work stopped without an answer \(killed by SIGKILL\)$"):
        run_forked(lambda: os.kill(os.getpid(), signal.SIGKILL), "the work")
