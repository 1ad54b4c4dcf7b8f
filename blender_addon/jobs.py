"""The Generate worker: upload, poll, download, on a thread that never touches bpy. It reports
through a queue that the modal operator's timer drains on the main thread."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from .client import Client, ServerError

POLL_SECONDS = 0.25


@dataclass
class Event:
    """kind: 'job' (text = id), 'progress' (fraction, text), 'done' (data = track bytes),
    'error' (text = the server's message) or 'cancelled'."""

    kind: str
    fraction: float = 0.0
    text: str = ""
    data: bytes = b""


def run_job(client: Client, audio_path: str, params: dict, events: queue.Queue, cancel: threading.Event) -> None:
    """Animate one clip on the server; every outcome ends with one done/error/cancelled event."""
    job_id = None
    try:
        job_id = client.submit(audio_path, params)
        events.put(Event("job", text=job_id))
        while True:
            if cancel.is_set():
                client.cancel(job_id)
                events.put(Event("cancelled"))
                return
            status = client.job(job_id)
            state = status["state"]
            events.put(Event("progress", float(status.get("progress", 0.0)), status.get("message", state)))
            if state == "done":
                events.put(Event("done", 1.0, data=client.track(job_id)))
                return
            if state in ("failed", "cancelled"):
                message = status.get("message") or f"the job was {state}"
                events.put(Event("cancelled" if state == "cancelled" else "error", text=message))
                return
            cancel.wait(POLL_SECONDS)
    except ServerError as exc:
        events.put(Event("error", text=str(exc)))
    except OSError as exc:
        events.put(Event("error", text=f"cannot read the audio file: {exc}"))


def start_job(client: Client, audio_path: str, params: dict) -> tuple[threading.Thread, queue.Queue, threading.Event]:
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    thread = threading.Thread(
        target=run_job, args=(client, audio_path, params, events, cancel), name="mouthpiece-job", daemon=True
    )
    thread.start()
    return thread, events, cancel
