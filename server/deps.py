"""What the routes share, one per app: settings, engine pool, job store, ``?wait=`` waiters and the rig
cache, handed to the routes as FastAPI dependencies."""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from core.errors import ModelMissingError
from core.rigs import RIG_NAMES, load_rig
from server.engine_pool import EnginePool
from server.errors import RigNotFound
from server.jobs import FINISHED, Job, JobManager
from server.schemas import JobStatus
from server.settings import Settings


class FinishWaiters:
    """``?wait=`` requests: one event per awaited job, set on the event loop when a worker finishes it."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def attach(self, manager: JobManager, loop: asyncio.AbstractEventLoop) -> None:
        """Wake waiters from ``manager``'s worker threads (it calls ``on_finish`` under its lock: kept short)."""
        manager.on_finish = lambda job: loop.call_soon_threadsafe(self._wake, job.id)

    def _wake(self, job_id: str) -> None:
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()

    async def wait(self, job: Job, seconds: float) -> None:
        """Return when ``job`` finishes or after ``seconds``, whichever is first."""
        if seconds > 0 and job.state not in FINISHED:
            event = self._events.setdefault(job.id, asyncio.Event())
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)


class RigCache:
    """Each rig's wire form (.npz bytes), built on first request."""

    def __init__(self) -> None:
        self._npz: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def npz(self, name: str) -> bytes:
        if name not in RIG_NAMES:
            raise RigNotFound(f"unknown rig '{name}'; choose one of: {', '.join(RIG_NAMES)}")
        with self._lock:
            if name not in self._npz:
                try:
                    self._npz[name] = load_rig(name).to_npz_bytes()
                except ModelMissingError as exc:
                    raise RigNotFound(str(exc)) from None
            return self._npz[name]


@dataclass
class ServerState:
    """Everything one app's routes share; ``app.state.server``."""

    settings: Settings
    device: str
    pool: EnginePool
    manager: JobManager
    waiters: FinishWaiters = field(default_factory=FinishWaiters)
    rigs: RigCache = field(default_factory=RigCache)

    def status_of(self, job: Job) -> JobStatus:
        """The job's status (takes the job store's lock: call it off the event loop)."""
        return JobStatus(
            id=job.id,
            kind=job.kind,
            engine=job.engine,
            audio_seconds=job.audio_seconds,
            created=job.created,
            **self.manager.progress_of(job),
        )


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def _manager(state: Annotated[ServerState, Depends(server_state)]) -> JobManager:
    return state.manager


State = Annotated[ServerState, Depends(server_state)]
Manager = Annotated[JobManager, Depends(_manager)]
