"""Bad luck on a real server: a job that cannot be finished (the disk refuses its record), a hung
engine process, all while the worker keeps serving the next job."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import numpy as np
import pytest

from core.audio import SAMPLE_RATE, load_audio
from tests.server.test_server import HELLO, RunningServer, serve, submit, wait_for, wav_bytes

FINISHED = {"done", "failed", "cancelled"}


@pytest.fixture(scope="module")
def clips() -> tuple[bytes, bytes]:
    """(2 s of speech, 19 s of speech: long enough to catch its job running)."""
    speech = load_audio(HELLO)
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    return wav_bytes(speech[: 2 * SAMPLE_RATE]), wav_bytes(np.concatenate([speech, pause] * 2))


def _running(server: RunningServer, audio: bytes, warm: bytes | None = None) -> str:
    """Submit ``audio`` and return once its job runs and its engine has reported on it (after ``warm``,
    a job run first so that the engine process is up)."""
    with server.client() as client:
        if warm is not None:
            assert wait_for(client, submit(client, warm).json()["id"], FINISHED)["state"] == "done"
        job_id = submit(client, audio).json()["id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/v1/jobs/{job_id}").json())["message"] in ("starting", "waiting in the queue"):
            assert status["state"] in ("queued", "running") and time.monotonic() < deadline, status
            time.sleep(0.05)
    return job_id


def _engine_pid(server: RunningServer) -> int:
    pid = server.server.config.app.state.manager.engine_pid("cpu")
    assert pid is not None
    return pid


@pytest.fixture
def stopped_engine(server_for_test: RunningServer) -> Iterator[list[int]]:
    """SIGSTOPped engine pids are continued (or are gone) at the end, whatever the test did."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def server_for_test(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    with serve(tmp_path / "data", **getattr(request, "param", {})) as running:
        yield running


@pytest.mark.slow
def test_an_os_error_finishing_a_job_fails_it_and_the_next_job_runs(
    server_for_test: RunningServer, clips: tuple[bytes, bytes]
) -> None:
    short, long = clips
    job_id = _running(server_for_test, long)
    record = server_for_test.settings.data_dir / "jobs" / job_id / "job.json"
    record.unlink()
    record.mkdir()  # the record cannot be replaced now: finishing the job raises IsADirectoryError
    with server_for_test.client() as client:
        failed = wait_for(client, job_id, FINISHED)
        assert failed["state"] == "failed"
        assert "could not finish this job (IsADirectoryError" in failed["message"]
        health = client.get("/v1/health").json()
        assert health["status"] == "ok" and health["problems"] == []
        next_id = submit(client, short).json()["id"]
        assert wait_for(client, next_id, FINISHED)["state"] == "done"
        assert client.get(f"/v1/jobs/{next_id}/track").status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("server_for_test", [{"stall_seconds": 3}], indirect=True)
def test_a_hung_engine_is_failed_by_the_watchdog_and_replaced(
    server_for_test: RunningServer, stopped_engine: list[int], clips: tuple[bytes, bytes]
) -> None:
    short, long = clips
    job_id = _running(server_for_test, long, warm=short)
    hung = _engine_pid(server_for_test)
    os.kill(hung, signal.SIGSTOP)
    stopped_engine.append(hung)
    with server_for_test.client() as client:
        deadline = time.monotonic() + 10
        while (health := client.get("/v1/health").json())["status"] == "ok":
            assert time.monotonic() < deadline, "health never reported the quiet engine"
            time.sleep(0.1)
        assert health["status"] == "degraded"
        assert "the cpu engine has reported no progress for" in health["problems"][0]
        failed = wait_for(client, job_id, FINISHED, timeout=30)
        assert failed["state"] == "failed"
        assert "made no progress for 3 s" in failed["message"]
        next_id = submit(client, short).json()["id"]
        assert wait_for(client, next_id, FINISHED)["state"] == "done"
        assert _engine_pid(server_for_test) != hung
        assert client.get("/v1/health").json()["status"] == "ok"


@pytest.mark.slow
def test_cancelling_a_job_on_a_hung_engine_replaces_the_engine(
    server_for_test: RunningServer, stopped_engine: list[int], clips: tuple[bytes, bytes]
) -> None:
    short, long = clips
    job_id = _running(server_for_test, long)
    hung = _engine_pid(server_for_test)
    os.kill(hung, signal.SIGSTOP)
    stopped_engine.append(hung)
    with server_for_test.client() as client:
        assert client.delete(f"/v1/jobs/{job_id}").json()["message"] == "cancelling"
        cancelled = wait_for(client, job_id, FINISHED, timeout=30)
        assert cancelled["state"] == "cancelled"
        assert "the engine did not stop, so it was replaced" in cancelled["message"]
        next_id = submit(client, short).json()["id"]
        assert wait_for(client, next_id, FINISHED)["state"] == "done"
