"""The add-on's server link: one session, new on every file load, and the local server process it starts."""

from __future__ import annotations

import sys
import time

import bpy

from blender_addon.server_link import LocalServer, Session, session

from .conftest import enabled_addon


def test_a_file_load_starts_a_new_session(scene, tmp_path):
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    with enabled_addon():
        old = session()
        old.health, old.engines, old.error = {"version": "0.1.0"}, [{"name": "builtin", "ready": True}], ""
        old.job.running, old.job.status, old.render.running = True, "animating", True
        assert not bpy.ops.mouthpiece.generate.poll()  # a job runs: Generate waits for it
        bpy.ops.wm.open_mainfile(filepath=str(path))
        assert session() is not old and session() == Session()
        assert bpy.ops.mouthpiece.generate.poll()  # nothing of the last file's job holds the panel
        assert old.job.running  # a worker thread of the last file writes into its own session, not the new one
    kept = session()
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert session() is kept  # disabled: the add-on left no handler behind


def test_the_local_server_runs_once_on_the_urls_port_and_stops(tmp_path):
    argv = tmp_path / "argv.txt"
    code = f"import sys, time; open({str(argv)!r}, 'w').write(' '.join(sys.argv[1:])); time.sleep(60)"
    command = f"{sys.executable} -c {code!r}"
    server = LocalServer()
    assert server.start("http://127.0.0.1:8765", command) is None
    process = server.process
    assert process is not None and process.poll() is None
    assert server.start("http://127.0.0.1:8765", command) is None and server.process is process  # still ours
    deadline = time.monotonic() + 30
    while not argv.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(wait=10)
    assert process.returncode is not None and server.process is None
    assert argv.read_text() == "--port 8765"

    error = server.start("http://127.0.0.1:8765", str(tmp_path / "no-such-mouthpiece") + " serve")
    assert error is not None and error.startswith(f"cannot run '{tmp_path / 'no-such-mouthpiece'} serve --port 8765'")
    assert "set the full path of its 'mouthpiece' command in the add-on preferences" in error


def test_disabling_the_addon_stops_the_server_it_started(scene):
    from blender_addon import server_link

    with enabled_addon() as prefs:
        prefs.server_url = "http://127.0.0.1:8765"
        prefs.server_command = f"{sys.executable} -c 'import time; time.sleep(60)'"
        assert server_link.start_local_server(bpy.context) is None
        process = server_link.LOCAL_SERVER.process
        assert process is not None and process.poll() is None
    process.wait(10)
    assert process.returncode is not None and server_link.LOCAL_SERVER.process is None
