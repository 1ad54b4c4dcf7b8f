"""Run a long native call in a forked copy of this process, so that Ctrl-C ends it at once.

A C extension that holds the GIL through a long call (pocketsphinx decoding a whole clip) cannot be
interrupted: Python runs its SIGINT handler only when the call returns, and a thread would not help,
since no other thread runs meanwhile. In a child made by ``fork`` the call runs on a copy of the
process (the same objects, in the same state, so the same results); the parent waits on a pipe,
which a signal interrupts. On KeyboardInterrupt (or any error) the child is killed, and the
parent's objects were never touched: no decoder is left half-way through an utterance.

The child runs only ``work`` and ``os._exit``\\s: no ``atexit`` handlers, no flushing of the
parent's buffers; on Linux the kernel kills it if the parent dies first (``kill -9``). ``work`` must
not need other threads (they do not exist in the child) and must return a picklable value. Where
``fork`` does not exist or fails (a process limit), ``work`` runs in this process.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from core.errors import MouthpieceError

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # prctl option: the signal this process gets when its parent dies


def run_forked(work: Callable[[], T], what: str) -> T:
    """``work()``, computed in a forked child; its exception is raised here. ``what`` names the work in
    the error raised when the child dies without an answer (a crash, the out-of-memory killer)."""
    if not hasattr(os, "fork"):
        return work()
    parent = os.getpid()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return work()
    if pid == 0:
        _child(work, parent, read_end, write_end)
    try:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
    if not answer:
        raise MouthpieceError(f"{what} stopped without an answer ({_how(status)})")
    ok, value = pickle.loads(answer)
    if not ok:
        raise value
    return value


def _child(work: Callable[[], object], parent: int, read_end: int, write_end: int) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills this child
        if sys.platform == "linux":
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        os.close(read_end)
        if os.getppid() == parent:  # else the parent died before that took effect
            try:
                answer = pickle.dumps((True, work()))
            except Exception as exc:
                answer = pickle.dumps((False, exc))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
            code = 0
    finally:
        os._exit(code)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
