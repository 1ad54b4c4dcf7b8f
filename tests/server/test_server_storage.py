"""The data folder under bad luck: a full disk answers 507 and leaves nothing behind, leftovers of
interrupted writes are removed at start, and a second server cannot take a folder that is in use."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.server.test_server import serve, submit, wait_for
from tests.support.hostile import cli, free_port, server_process

FINISHED = {"done", "failed", "cancelled"}
LIMIT = 200_000
"""RLIMIT_FSIZE for the server: no file it writes may pass 200 KB (writes past it fail with EFBIG)."""


def _wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * 16000)) / 16000
    sf.write(buf, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


@pytest.mark.slow
def test_a_full_disk_answers_507_and_leaves_no_job_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prefix = ("prlimit", f"--fsize={LIMIT}", "--")
    with server_process(data, prefix=prefix) as running, running.client() as client:
        r = submit(client, _wav(4))  # 4 s of 16 kHz float32 is 256 KB: its audio.npy cannot be written
        assert r.status_code == 507, r.text
        assert r.json()["detail"].startswith("the server could not store the job (a write was cut short) in its data")
        assert "free some disk space" in r.json()["detail"]
        assert list((data / "jobs").iterdir()) == []
        assert client.get("/v1/jobs").json() == []
        small = submit(client, _wav(1))  # still serving: a job that fits goes through
        assert small.status_code == 202
        assert wait_for(client, small.json()["id"], FINISHED)["state"] == "done"


def test_leftovers_of_interrupted_writes_are_removed_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(data) as running, running.client() as client:
        job_id = submit(client, _wav(1)).json()["id"]
        wait_for(client, job_id, FINISHED)
    orphan = data / "jobs" / "0123456789abcdef0123456789abcdef"
    orphan.mkdir()
    (orphan / "audio.npy").write_bytes(b"half a clip")
    part = data / "jobs" / job_id / ".track.1234abcd.part.npz"
    part.write_bytes(b"half a track")
    with serve(data) as running, running.client() as client:
        assert not orphan.exists() and not part.exists()
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "done"
        assert client.get(f"/v1/jobs/{job_id}/track").status_code == 200


@pytest.mark.slow
def test_a_second_server_is_refused_a_data_folder_in_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server_process(data) as first, first.client() as client:
        job_id = submit(client, _wav(1)).json()["id"]
        wait_for(client, job_id, FINISHED)
        record = (data / "jobs" / job_id / "job.json").read_text()
        other_port = cli("serve", "--device", "cpu", "--data-dir", str(data), "--port", str(free_port()))
        assert other_port.returncode == 2
        assert other_port.stderr.strip() == (
            f"mouthpiece serve: error: the data folder {data} is in use by another mouthpiece server "
            f"(pid {first.proc.pid}); stop that one, or give this one its own --data-dir"
        )
        port = first.url.rsplit(":", 1)[1]
        same_port = cli("serve", "--device", "cpu", "--data-dir", str(data), "--port", port)
        assert same_port.returncode == 2
        assert same_port.stderr.strip().startswith(f"mouthpiece serve: error: cannot listen on 127.0.0.1:{port}")
        assert "another mouthpiece serve running" in same_port.stderr
        assert (data / "jobs" / job_id / "job.json").read_text() == record  # nothing touched
        assert json.loads(record)["state"] == "done"
        assert client.get("/v1/health").json()["status"] == "ok"
    with server_process(data) as again, again.client() as client:  # released when the first one stopped
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "done"


@pytest.mark.parametrize("kind", ["file", "read-only"])
@pytest.mark.slow
def test_serve_on_an_unusable_data_folder_is_one_line(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("not a folder")
    else:
        target = Path("/proc/mouthpiece-data")  # not creatable, even by root
    done = cli("serve", "--device", "cpu", "--data-dir", str(target), "--port", str(free_port()))
    assert done.returncode == 2
    assert done.stderr.startswith(f"mouthpiece serve: error: cannot use {target} as the data folder")
    assert done.stderr.count("\n") == 1
