"""CPU time for the benches: this process's and its finished children's, since pocketsphinx decodes of
long clips run in a forked child (core.forked) that ``time.process_time`` would not count."""

from __future__ import annotations

import os


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
