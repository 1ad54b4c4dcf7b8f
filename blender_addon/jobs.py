"""Server jobs (Generate's animation, Render Portrait Video's render): upload, poll, download, on a thread
that never touches bpy. It reports through a queue that the modal operator's timer drains on the main thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .client import Client, ServerError

POLL_SECONDS = 0.25


@dataclass
class Event:
    """kind: 'job' (text = id), 'progress' (fraction, text), 'done' (data = the result's bytes),
    'error' (text = the server's message) or 'cancelled'."""

    kind: str
    fraction: float = 0.0
    text: str = ""
    data: bytes = b""


@dataclass
class Remote:
    """How to drive one kind of server job."""

    submit: Callable[[], str]
    status: Callable[[str], dict]
    result: Callable[[str], bytes]
    cancel: Callable[[str], dict]
    connect: Callable[[queue.Queue], None] | None = None  # first (e.g. start the local server); raises ServerError


@contextmanager
def _ends_with_one_event(events: queue.Queue) -> Iterator[None]:
    """Turn any failure of the work inside into its final 'error' event: the operator waits for one."""
    try:
        yield
    except ServerError as exc:
        events.put(Event("error", text=str(exc)))
    except OSError as exc:
        events.put(Event("error", text=f"cannot read {exc.filename or 'the file'}: {exc.strerror or exc}"))
    except Exception as exc:
        events.put(Event("error", text=f"unexpected error talking to the server: {type(exc).__name__}: {exc}"))


def run_remote(remote: Remote, events: queue.Queue, cancel: threading.Event) -> None:
    """Connect, submit, poll until finished, fetch the result; every outcome, an unexpected error
    included, ends with one done/error/cancelled event."""
    with _ends_with_one_event(events):
        if remote.connect is not None:
            remote.connect(events)
        job_id = remote.submit()
        events.put(Event("job", text=job_id))
        while True:
            if cancel.is_set():
                remote.cancel(job_id)
                events.put(Event("cancelled"))
                return
            status = remote.status(job_id)
            state = status["state"]
            events.put(Event("progress", float(status.get("progress", 0.0)), status.get("message", state)))
            if state == "done":
                events.put(Event("done", 1.0, data=remote.result(job_id)))
                return
            if state in ("failed", "cancelled"):
                message = status.get("message") or f"the job was {state}"
                events.put(Event("cancelled" if state == "cancelled" else "error", text=message))
                return
            cancel.wait(POLL_SECONDS)


def start_fetch(
    fetch: Callable[[], bytes], what: str, connect: Callable[[queue.Queue], None] | None = None
) -> tuple[threading.Thread, queue.Queue, threading.Event]:
    """Download something (a rig) on a worker thread after ``connect``; 'done' carries the bytes."""

    def run(events: queue.Queue, cancel: threading.Event) -> None:
        with _ends_with_one_event(events):
            if connect is not None:
                connect(events)
            if cancel.is_set():
                events.put(Event("cancelled"))
                return
            events.put(Event("progress", 0.5, f"Downloading {what}…"))
            events.put(Event("done", 1.0, data=fetch()))

    return _start(run)


def run_job(
    client: Client,
    audio_path: str,
    params: dict,
    events: queue.Queue,
    cancel: threading.Event,
    connect: Callable[[queue.Queue], None] | None = None,
) -> None:
    """Animate one clip on the server (after ``connect``, when given)."""
    remote = Remote(lambda: client.submit(audio_path, params), client.job, client.track, client.cancel, connect)
    run_remote(remote, events, cancel)


def run_render(
    client: Client,
    image_path: str,
    job_id: str,
    params: dict,
    events: queue.Queue,
    cancel: threading.Event,
    connect: Callable[[queue.Queue], None] | None = None,
) -> None:
    """Render finished job ``job_id``'s track on a portrait; 'done' carries the mp4."""
    remote = Remote(
        lambda: client.render(image_path, job_id, params),
        client.render_status,
        client.video,
        client.cancel_render,
        connect,
    )
    run_remote(remote, events, cancel)


def _start(target: Callable[..., None], *args: object) -> tuple[threading.Thread, queue.Queue, threading.Event]:
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    thread = threading.Thread(target=target, args=(*args, events, cancel), name="mouthpiece-job", daemon=True)
    thread.start()
    return thread, events, cancel


def start_job(
    client: Client, audio_path: str, params: dict, connect: Callable[[queue.Queue], None] | None = None
) -> tuple[threading.Thread, queue.Queue, threading.Event]:
    return _start(lambda events, cancel: run_job(client, audio_path, params, events, cancel, connect))


def start_render(
    client: Client, image_path: str, job_id: str, params: dict, connect: Callable[[queue.Queue], None] | None = None
) -> tuple[threading.Thread, queue.Queue, threading.Event]:
    return _start(lambda events, cancel: run_render(client, image_path, job_id, params, events, cancel, connect))
