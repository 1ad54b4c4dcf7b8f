"""Jobs: a bounded queue, one worker per device, and results on disk that survive a restart.

Each device's worker thread feeds its jobs, one at a time, to that device's engine process
(server/worker.py), so the HTTP side keeps answering while an engine computes.

Two kinds of job share the queue, the workers and the store:

- ``animate`` (``POST /v1/jobs``): ``audio.npy`` (16 kHz mono float32) in, ``track.npz`` out. A finished
  job keeps its audio, so that a render of its track can use it.
- ``render`` (``POST /v1/renders``): ``input.npz`` (a bfm track), ``portrait.npy`` (the checked, resized
  portrait) and optionally ``audio.npy`` in, ``video.mp4`` out; the portrait and audio go when it finishes.

Every job folder ``<data_dir>/jobs/<id>/`` also holds ``job.json``, the record.

Restart policy: a job that was queued or running when the server stopped is queued again when the
server starts (its audio is on disk and engines are deterministic per seed), with a message saying so.
One whose audio is gone is marked failed with a message asking to submit it again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import queue
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.atomic import replacing
from core.audio import SAMPLE_RATE
from core.errors import InputError, MouthpieceError
from core.track import Track
from server.engine_pool import EnginePool
from server.schemas import JobKind, JobParams, JobState, RenderParams
from server.settings import Settings
from server.worker import AUDIO, INPUT_TRACK, PORTRAIT, TRACK, VIDEO, EngineProcess, worker_context

log = logging.getLogger("mouthpiece.server")

FINISHED = frozenset({"done", "failed", "cancelled"})
RECORD = "job.json"
LOCK = "server.lock"
INPUT = {"animate": AUDIO, "render": PORTRAIT}
"""The file whose presence means a queued job can still run."""
RESULT = {"animate": TRACK, "render": VIDEO}
RENDERER = "renderer"


class QueueFull(MouthpieceError):
    """The queue holds ``max_queue`` jobs; ``retry_after`` is a guess in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFull(MouthpieceError):
    """The data folder refused to store a new job (full disk, read-only, quota)."""


class JobNotFound(InputError):
    """No job with this id (never existed, deleted, or pruned)."""


class JobNotReady(InputError):
    """The job exists but has no result (yet), or not the kind asked for."""


@dataclass
class Job:
    """One request (animate a clip, or render a video); everything but ``cancel`` is persisted in ``job.json``."""

    id: str
    params: dict[str, Any]
    audio_seconds: float
    created: float
    kind: JobKind = "animate"
    state: JobState = "queued"
    progress: float = 0.0
    message: str = "waiting in the queue"
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def engine(self) -> str:
        """The engine that runs the job (``renderer`` for renders)."""
        return RENDERER if self.kind == "render" else str(self.params.get("engine", "builtin"))

    def record(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cancel"}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Job:
        required = {k: rec[k] for k in ("id", "params", "audio_seconds", "created")}
        extra = {k: rec[k] for k in ("kind", "state", "progress", "message", "started", "finished") if k in rec}
        return cls(**required, **extra)


class JobManager:
    """Owns every job: accepts, queues, runs (one at a time per device), persists and prunes them.

    ``_lock`` guards the jobs in memory and the order of their records on disk (``job.json``, a few hundred
    bytes, written as a state changes); the bulk of the disk work (a new job's inputs, removing folders,
    sizing them to prune) is done outside it, so a status request never waits on a large write. The HTTP
    event loop never takes it: status handlers read through a worker thread.
    """

    def __init__(self, settings: Settings, pool: EnginePool) -> None:
        self.settings = settings
        self.pool = pool
        self.root = Path(settings.data_dir) / "jobs"
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[str | None]] = {d: queue.Queue() for d in pool.devices()}
        self._engines = {d: EngineProcess(d, worker_context(settings), settings.stall_seconds) for d in self._queues}
        self._pending: dict[str, deque[str]] = {d: deque() for d in self._queues}
        self._threads: list[threading.Thread] = []
        self._run_seconds: deque[float] = deque(maxlen=20)
        self._stopping = False
        self._storing_now = 0
        """Admitted jobs whose inputs are being written (outside the lock); they count against ``max_queue``."""
        self._claim: IO[str] | None = None
        self.on_finish: Callable[[Job], object] | None = None
        """Called (under the manager's lock; keep it short) when a job reaches a final state."""

    # ---- lifecycle -------------------------------------------------------------------------
    def claim_data_dir(self) -> None:
        """Lock the data folder for this server (``server.lock`` holds its pid); refused while another holds it.

        The lock is an ``flock``: it goes with the process, however that ends.
        """
        if self._claim is not None:
            return
        path = Path(self.settings.data_dir) / LOCK
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            claim = open(path, "a+")  # noqa: SIM115 (held open while the server runs)
        except OSError as exc:
            raise InputError(
                f"cannot use {self.settings.data_dir} as the data folder ({exc.strerror or exc}); "
                "pass --data-dir with a writable folder"
            ) from None
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            claim.seek(0)
            holder = claim.read().strip() or "unknown"
            claim.close()
            raise InputError(
                f"the data folder {self.settings.data_dir} is in use by another mouthpiece server (pid {holder}); "
                "stop that one, or give this one its own --data-dir"
            ) from None
        claim.truncate(0)
        claim.write(f"{os.getpid()}\n")
        claim.flush()
        self._claim = claim

    def start(self) -> None:
        """Claim the data folder, load jobs (re-queueing interrupted ones), prune, start one worker per device."""
        self.claim_data_dir()
        self._remove_leftovers()
        for job in sorted(self._load_all(), key=lambda j: j.created):
            self._jobs[job.id] = job
            if job.state == "queued":
                self._enqueue(job)
        self.prune()
        for device in self._queues:
            thread = threading.Thread(target=self._work, args=(device,), name=f"mouthpiece-{device}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a running job is interrupted and stays queued on disk for the next start."""
        with self._lock:
            self._stopping = True
            self.on_finish = None  # its event loop is going away with the server
            for job in self._jobs.values():
                if job.state == "running":
                    job.cancel.set()
        for q in self._queues.values():
            q.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for engines in self._engines.values():  # an engine deaf to cancel is killed here
            engines.stop(timeout=2.0)
        for thread in self._threads:
            thread.join(5.0)
        self._threads.clear()
        if self._claim is not None:
            self._claim.close()  # releases the flock
            self._claim = None

    # ---- requests --------------------------------------------------------------------------
    def submit(self, params: JobParams, audio: np.ndarray) -> Job:
        """Store a new animation job and queue it; raises :class:`QueueFull` when the queue is at its limit."""
        job = Job(
            id=uuid.uuid4().hex,
            params=params.model_dump(),
            audio_seconds=round(len(audio) / SAMPLE_RATE, 3),
            created=time.time(),
        )
        with self._storing(job):
            np.save(self.root / job.id / AUDIO, np.asarray(audio, dtype=np.float32))
        return job

    def submit_render(self, params: RenderParams, track: Track, portrait: np.ndarray, audio: np.ndarray | None) -> Job:
        """Store a new render job (bfm track, resized portrait, optional audio) and queue it."""
        job = Job(
            id=uuid.uuid4().hex,
            params=params.model_dump(),
            audio_seconds=round(track.duration, 3),
            created=time.time(),
            kind="render",
        )
        with self._storing(job):
            folder = self.root / job.id
            with open(folder / INPUT_TRACK, "wb") as fh:
                track.to_npz(fh)
            if audio is not None:
                np.save(folder / AUDIO, np.asarray(audio, dtype=np.float32))
            np.save(folder / PORTRAIT, np.ascontiguousarray(portrait, dtype=np.uint8))
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(
                f"no job '{job_id}': it never existed, was deleted, or was pruned "
                f"(results are kept {self.settings.keep_days:g} days)"
            )
        return job

    def progress_of(self, job: Job) -> dict[str, Any]:
        """``job``'s state, progress, message, start and finish times and queue position (how many jobs
        wait before it on its device, None when it is not queued), read together under the store's lock:
        a finish whose record cannot be saved is taken back under it, so no reader sees that state."""
        with self._lock:
            pending = self._pending[self.pool.device_for(job.engine)]
            return {
                "state": job.state,
                "progress": job.progress,
                "message": job.message,
                "started": job.started,
                "finished": job.finished,
                "queue_position": pending.index(job.id) if job.id in pending else None,
            }

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job now, or ask a running one to stop at its next check."""
        with self._lock:
            job = self.get(job_id)
            if job.state == "queued":
                self._pending[self.pool.device_for(job.engine)].remove(job.id)
                self._finish_locked(job, "cancelled", "cancelled before it started")
            elif job.state == "running":
                job.cancel.set()
                job.message = "cancelling"
        return job

    def delete(self, job_id: str) -> None:
        """Forget a finished job and remove its files."""
        with self._lock:
            job = self.get(job_id)
            if job.state not in FINISHED:
                raise InputError(f"job '{job_id}' is {job.state}; cancel it first")
            self._jobs.pop(job.id, None)
        self._remove_files(job)

    def track_path(self, job_id: str) -> Path:
        """The track of a finished animation job."""
        return self._result(job_id, "animate")

    def video_path(self, job_id: str) -> Path:
        """The mp4 of a finished render."""
        return self._result(job_id, "render")

    def audio_of(self, job_id: str) -> np.ndarray | None:
        """The 16 kHz audio an animation job was made from, while it is kept (None once it is gone)."""
        path = self.root / self.get(job_id).id / AUDIO
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None

    def _result(self, job_id: str, kind: str) -> Path:
        job = self.get(job_id)
        what = "track" if kind == "animate" else "video"
        if job.kind != kind:
            other = "a render (GET /v1/renders/{id}/video)" if job.kind == "render" else "an animation job"
            raise JobNotReady(f"job '{job_id}' is {other.format(id=job_id)}, it has no {what}")
        if job.state != "done":
            base = "/v1/jobs" if kind == "animate" else "/v1/renders"
            hint = {
                "queued": f"it is waiting in the queue; poll GET {base}/{{id}} until its state is done",
                "running": f"it is running ({job.progress:.0%}); poll GET {base}/{{id}} until its state is done",
                "failed": f"it failed: {job.message}",
                "cancelled": "it was cancelled",
            }[job.state]
            raise JobNotReady(f"job '{job_id}' has no {what}: {hint.format(id=job_id)}")
        return self.root / job.id / RESULT[kind]

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def engines_loaded(self) -> list[str]:
        """Engines warm in the engine processes."""
        return sorted({name for engines in self._engines.values() for name in engines.loaded})

    def engine_pid(self, device: str) -> int | None:
        """Process id of ``device``'s engine process while it runs."""
        return self._engines[device].pid

    def worker_problems(self) -> list[str]:
        """What is wrong with the workers, for health: a worker thread that has died, an engine gone quiet."""
        problems = [
            f"the {t.name.removeprefix('mouthpiece-')} worker has stopped; restart the server"
            for t in self._threads
            if not t.is_alive()
        ]
        for device, engines in self._engines.items():
            quiet = engines.quiet_seconds()
            if quiet is not None and quiet > self.settings.stall_seconds / 2:
                problems.append(f"the {device} engine has reported no progress for {quiet:.0f} s")
        return problems

    def queue_depth(self) -> int:
        with self._lock:
            return self._depth_locked()

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state == "running")

    # ---- workers ---------------------------------------------------------------------------
    def _work(self, device: str) -> None:
        """One device's worker loop; whatever goes wrong with a job fails that job, never the loop."""
        q = self._queues[device]
        while True:
            job_id = q.get()
            if job_id is None:
                return
            job = None
            try:
                with self._lock:
                    job = self._jobs.get(job_id)
                    pending = self._pending[device]
                    if job is None or job.state != "queued" or job_id not in pending or self._stopping:
                        continue
                    pending.remove(job_id)
                    job.state, job.started, job.message = "running", time.time(), "starting"
                    self._save(job)
                self._run(job)
            except Exception as exc:
                log.exception("job %s: the %s worker caught an error and goes on with the next job", job_id, device)
                if job is not None:
                    self._fail_after_error(job, exc)

    def _fail_after_error(self, job: Job, exc: Exception) -> None:
        """Mark ``job`` failed in memory (and on disk, if the disk lets us) after an error in the worker."""
        what = f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else type(exc).__name__
        with self._lock:
            job.state, job.finished = "failed", time.time()
            job.message = f"the server could not finish this job ({what}); submit it again"
            try:
                self._save(job)
            except OSError as again:
                log.error("job %s: its failure could not be recorded on disk either: %s", job.id, again)
            if self.on_finish is not None:
                self.on_finish(job)

    def _run(self, job: Job) -> None:
        def progress(fraction: float, message: str) -> None:
            job.progress = min(max(float(fraction), job.progress), 0.99)
            job.message = message

        t0 = time.perf_counter()
        engines = self._engines[self.pool.device_for(job.engine)]
        state, message, trace = engines.run(self.root / job.id, job.kind, job.params, progress, job.cancel.is_set)
        if trace:
            log.error("job %s crashed in the engine process:\n%s", job.id, trace)
        took = time.perf_counter() - t0
        with self._lock:
            if state != "done" and self._stopping:
                job.state, job.progress, job.started = "queued", 0.0, None
                job.message = "interrupted by a server shutdown; it runs again when the server restarts"
                self._save(job)
                log.info("job %s engine=%s audio=%.2fs interrupted by shutdown", job.id, job.engine, job.audio_seconds)
                return
            self._run_seconds.append(took)
            self._finish_locked(job, state, message)
        log.info(
            "job %s engine=%s audio=%.2fs took=%.2fs state=%s%s",
            job.id,
            job.engine,
            job.audio_seconds,
            took,
            state,
            f" ({message})" if state == "failed" else "",
        )
        self.prune()

    # ---- bookkeeping (callers hold self._lock where the name says so) ------------------------
    def _admit_locked(self) -> None:
        depth = self._depth_locked() + self._storing_now  # a job being stored holds its place
        if depth >= self.settings.max_queue:
            retry = self._retry_after_locked(depth)
            raise QueueFull(
                f"the queue is full ({depth} jobs waiting, limit {self.settings.max_queue}); "
                f"try again in about {retry} s",
                retry,
            )

    @contextmanager
    def _storing(self, job: Job) -> Iterator[None]:
        """Admit ``job`` (:class:`QueueFull` if the queue is full), write its inputs (the body) and its record
        outside the lock, then queue it. On an OSError remove it all and raise StorageFull."""
        with self._lock:
            self._admit_locked()
            self._storing_now += 1
        folder = self.root / job.id
        stored = False
        try:
            folder.mkdir(parents=True)
            yield
            self._save(job)
            stored = True
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            log.error("could not store a new job in %s: %s", self.root, exc)
            raise StorageFull(
                f"the server could not store the job ({exc.strerror or 'a write was cut short'}) "
                f"in its data folder {self.root}; "
                "free some disk space there (or restart the server with a smaller --keep-days) and try again"
            ) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            with self._lock:
                self._storing_now -= 1
                if stored:
                    self._jobs[job.id] = job
                    self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        device = self.pool.device_for(job.engine)
        self._pending[device].append(job.id)
        self._queues[device].put(job.id)

    def _depth_locked(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def _retry_after_locked(self, depth: int) -> int:
        per_job = sum(self._run_seconds) / len(self._run_seconds) if self._run_seconds else 5.0
        return int(min(600, max(1, math.ceil(per_job * depth / max(1, len(self._queues))))))

    def _finish_locked(self, job: Job, state: JobState, message: str) -> None:
        # spent inputs go first, so anyone who sees the final state also sees them gone; a finished
        # animation keeps its audio for renders of its track
        folder = self.root / job.id
        if job.kind == "render":
            for name in (PORTRAIT, AUDIO):
                (folder / name).unlink(missing_ok=True)
        elif state != "done":
            (folder / AUDIO).unlink(missing_ok=True)
        before = job.state, job.message, job.finished, job.progress
        job.state, job.message, job.finished = state, message, time.time()
        if state == "done":
            job.progress = 1.0
        try:
            self._save(job)
        except OSError:  # not finished after all: the worker fails the job with this error
            job.state, job.message, job.finished, job.progress = before
            raise
        if self.on_finish is not None:
            self.on_finish(job)

    def _remove_files(self, job: Job) -> None:
        """Remove a forgotten job's folder, its record first (a folder without one is a leftover at start)."""
        folder = self.root / job.id
        (folder / RECORD).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def _save(self, job: Job) -> None:
        with replacing(self.root / job.id / RECORD) as tmp:
            tmp.write_text(json.dumps(job.record()))

    def _remove_leftovers(self) -> None:
        """Remove what an interrupted write left: job folders without a record, and ``*.part`` files."""
        for folder in self.root.iterdir():
            if folder.is_dir() and not (folder / RECORD).is_file():
                shutil.rmtree(folder, ignore_errors=True)
                log.info("removed the orphan job folder %s (it has no %s)", folder.name, RECORD)
        for part in self.root.glob("*/*.part*"):
            part.unlink(missing_ok=True)

    def _load_all(self) -> list[Job]:
        jobs = []
        for path in self.root.glob(f"*/{RECORD}"):
            try:
                job = Job.from_record(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable job record %s: %s", path, exc)
                continue
            if job.id != path.parent.name:
                log.warning("ignoring job record %s: its id does not match its folder", path)
                continue
            folder = path.parent
            if job.kind not in INPUT:
                log.warning("ignoring job record %s: unknown kind %r", path, job.kind)
                continue
            result = folder / RESULT[job.kind]
            if job.state in ("queued", "running"):
                if (folder / INPUT[job.kind]).is_file():
                    job.state, job.progress, job.started = "queued", 0.0, None
                    job.message = "re-queued after a server restart"
                elif result.is_file():  # it finished just as the server stopped
                    job.state, job.progress, job.finished = "done", 1.0, time.time()
                    job.message = "done (finished as the server stopped)"
                else:
                    job.state, job.finished = "failed", time.time()
                    job.message = "the server stopped before this job finished and its input is gone; submit it again"
                self._save(job)
            elif job.state == "done" and not result.is_file():
                job.state = "failed"
                job.message = "the result file of this job is missing from the server's data folder"
                self._save(job)
            jobs.append(job)
        return jobs

    def prune(self) -> None:
        """Remove finished jobs older than ``keep_days``, then the oldest until under ``max_results_mb``."""
        now = time.time()
        max_age = self.settings.keep_days * 86400
        budget = self.settings.max_results_mb * 1024 * 1024
        with self._lock:
            finished = sorted(
                (j for j in self._jobs.values() if j.state in FINISHED), key=lambda j: j.finished or j.created
            )
        sizes = {j.id: _folder_bytes(self.root / j.id) for j in finished}  # a finished job's files do not change
        total = sum(sizes.values())
        pruned = []
        with self._lock:
            for job in finished:
                if self._jobs.get(job.id) is not job:  # deleted meanwhile
                    total -= sizes[job.id]
                elif now - (job.finished or job.created) > max_age or total > budget:
                    total -= sizes[job.id]
                    self._jobs.pop(job.id)
                    pruned.append(job)
        for job in pruned:
            self._remove_files(job)
            log.info("pruned job %s", job.id)


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    except OSError:
        return 0
