"""core.forked: work run in a forked child gives its answer or its error here, and changes nothing here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its new parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = (
        "import os, time; from core.forked import run_forked\n"
        f"run_forked(lambda: (open({str(marker)!r}, 'w').write(str(os.getpid())), time.sleep(120)), 'sleeping')\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 60
    while not (marker.is_file() and marker.read_text()):
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child = int(marker.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)
