"""The add-on's link to the Mouthpiece server: its client, the local server process, and the session (what the
server last said, the jobs' live state) that the panel shows and worker threads write.

The session is runtime state only, never saved nor undone; every file load (and unregister) starts a new one,
so a job that ran in the last file cannot leave the panel busy. A worker thread writes into the session it
started in, never into a newer one.
"""

from __future__ import annotations

import queue
import shlex
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import bpy

from .client import Client, ServerError
from .jobs import Event

if TYPE_CHECKING:
    from .properties import MouthpiecePreferences

DEFAULT_URL = "http://127.0.0.1:8765"
DEFAULT_COMMAND = "mouthpiece serve"
SERVER_START_SECONDS = 120.0  # how long a job waits for an auto-started server (a cold start loads torch)


@dataclass
class Progress:
    """One kind of job's live state for the panel (Generate's, Render Portrait Video's)."""

    running: bool = False
    progress: float = 0.0
    status: str = ""
    error: str = ""


@dataclass
class Session:
    """What the server last said (GET /v1/health and /v1/models) and the jobs' live state."""

    health: dict | None = None
    engines: list[dict] = field(default_factory=list)
    error: str = ""
    loading: bool = False  # GET /v1/models in flight
    job: Progress = field(default_factory=Progress)  # Generate and Add Head
    render: Progress = field(default_factory=Progress)  # Render Portrait Video


_session = Session()


def session() -> Session:
    """The current session."""
    return _session


def reset_session() -> Session:
    """Start a new, empty session (threads still running keep writing into the old one)."""
    global _session
    _session = Session()
    return _session


def engine_info(name: str) -> dict | None:
    """The server's entry for engine ``name`` (from GET /v1/models), when it has one."""
    return next((e for e in _session.engines if e.get("name") == name), None)


def preferences(context: bpy.types.Context) -> MouthpiecePreferences | None:
    """The add-on's preferences (None when it is not enabled, e.g. in a script that only imports it)."""
    addon = context.preferences.addons.get(__package__) if context.preferences else None
    return cast("MouthpiecePreferences", addon.preferences) if addon else None


def _server_settings(context: bpy.types.Context) -> tuple[str, str, str]:
    """(server URL, token, server command) from the preferences, or the defaults."""
    prefs = preferences(context)
    if prefs is None:
        return DEFAULT_URL, "", DEFAULT_COMMAND
    return prefs.server_url, prefs.token, prefs.server_command


def client(context: bpy.types.Context, timeout: float = 30.0) -> Client:
    url, token, _command = _server_settings(context)
    return Client(url, token, timeout)


def tag_redraw(context: bpy.types.Context) -> None:
    """Redraw the 3D views (the sidebar shows the session)."""
    if context.window_manager is None:
        return
    for window in context.window_manager.windows:
        for area in window.screen.areas if window.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()


def refresh_server_in_background(context: bpy.types.Context) -> threading.Thread:
    """Ask the server for its health and engines on a thread (Blender never waits for a server); remember the
    answer, or the error, in the session, and redraw the panel after."""
    probe, slow, state = client(context, timeout=3.0), client(context, timeout=300.0), _session

    def work() -> None:
        try:
            health = probe.health()
        except ServerError as exc:
            state.health, state.error = None, str(exc)
            return
        state.health, state.error, state.loading = health, "", True
        try:
            state.engines = slow.models()  # the first time, the server loads its engines
        except ServerError as exc:
            state.error = str(exc)
        finally:
            state.loading = False

    thread = threading.Thread(target=work, name="mouthpiece-check", daemon=True)
    thread.start()

    def redraw_when_answered() -> float | None:
        if thread.is_alive():
            return 0.5
        tag_redraw(bpy.context)
        return None

    if not bpy.app.background:
        bpy.app.timers.register(redraw_when_answered, first_interval=0.5)
    return thread


class LocalServer:
    """The ``mouthpiece serve`` process this add-on started (at most one); it outlives file loads."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()  # jobs' worker threads may start it

    def start(self, server_url: str, server_command: str) -> str | None:
        """Run ``server_command`` on the URL's port unless ours already runs; returns an error message or None."""
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return None
            url = urllib.parse.urlparse(server_url)
            command = shlex.split(server_command)
            if url.port:
                command += ["--port", str(url.port)]
            try:
                self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
            except OSError as exc:
                return (
                    f"cannot run '{' '.join(command)}' ({exc.strerror}); install Mouthpiece and set the full path "
                    "of its 'mouthpiece' command in the add-on preferences"
                )
            return None

    def stop(self, wait: float = 0.0) -> None:
        """End the process we started (waiting up to ``wait`` seconds for it), if it still runs."""
        with self._lock:
            process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            if wait:
                process.wait(wait)


LOCAL_SERVER = LocalServer()


def start_local_server(context: bpy.types.Context) -> str | None:
    """Start the preferences' server command on the URL's port; returns an error message or None."""
    url, _token, command = _server_settings(context)
    return LOCAL_SERVER.start(url, command)


def server_connector(context: bpy.types.Context) -> Callable[[queue.Queue], None]:
    """For a job's worker thread: make sure a server answers, auto-starting the local one (preferences)
    and waiting for it there, never on Blender's main thread. Raises ServerError saying why not."""
    prefs = preferences(context)
    auto = bool(prefs is not None and prefs.auto_start)
    url, _token, command = _server_settings(context)
    probe, state = client(context, timeout=3.0), _session

    def connect(events: queue.Queue) -> None:
        try:
            state.health = probe.health()
            return
        except ServerError as exc:
            if not auto:
                state.health, state.error = None, str(exc)
                raise
        events.put(Event("progress", 0.0, "Starting the local server…"))
        error = LOCAL_SERVER.start(url, command)
        if error:
            raise ServerError(error)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                state.health, state.error = probe.health(), ""
                return
            except ServerError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"the local server did not answer within {SERVER_START_SECONDS:.0f} s: {exc}"
                    ) from None
            time.sleep(0.25)

    return connect


@bpy.app.handlers.persistent
def _new_file(*_args: object) -> None:
    """After a file load: a new session; with a UI, a new look at the server when the last session had one
    (the engine lists come back; at start-up the add-on's own first check does this)."""
    asked = _session.health is not None or bool(_session.error)
    reset_session()
    if asked and not bpy.app.background:
        refresh_server_in_background(bpy.context)


def register() -> None:
    reset_session()
    bpy.app.handlers.load_post.append(_new_file)


def unregister() -> None:
    if _new_file in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_new_file)
    LOCAL_SERVER.stop()
