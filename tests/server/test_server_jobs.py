"""The job store without HTTP: restart recovery, pruning by age and size, the WAV truncation check."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import load_audio
from core.errors import InputError
from server.engine_pool import EnginePool
from server.jobs import JobManager, JobNotFound, QueueFull
from server.schemas import JobParams
from server.settings import Settings
from server.uploads import check_wav_complete

CLIP = np.zeros(8000, dtype=np.float32)
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"


def manager(tmp_path: Path, **overrides) -> JobManager:
    return JobManager(Settings(data_dir=tmp_path, device="cpu", **overrides), EnginePool("cpu"))


def test_queued_jobs_survive_a_restart_and_lost_audio_fails_clearly(tmp_path: Path) -> None:
    first = manager(tmp_path)  # never started: jobs stay queued, as if the server died
    kept = first.submit(JobParams(seed=1), CLIP)
    lost = first.submit(JobParams(seed=2), CLIP)
    (tmp_path / "jobs" / lost.id / "audio.npy").unlink()

    second = manager(tmp_path)
    second.start()
    try:
        deadline = time.monotonic() + 60
        while second.get(kept.id).state not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert second.get(kept.id).state == "done", second.get(kept.id).message
        assert (tmp_path / "jobs" / kept.id / "track.npz").is_file()
        assert not (tmp_path / "jobs" / kept.id / "audio.npy").exists(), "audio is dropped once done"
        assert second.get(lost.id).state == "failed"
        assert "submit it again" in second.get(lost.id).message
    finally:
        second.stop()


def test_a_crashed_engine_process_fails_its_job_and_is_replaced(tmp_path: Path) -> None:
    speech = np.tile(load_audio(HELLO), 4)
    jobs = manager(tmp_path)
    jobs.start()
    try:
        doomed = jobs.submit(JobParams(), speech)
        deadline = time.monotonic() + 60
        while (pid := jobs.engine_pid("cpu")) is None or jobs.get(doomed.id).state != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        while jobs.get(doomed.id).state == "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert jobs.get(doomed.id).state == "failed"
        assert "engine process stopped (exit code -9)" in jobs.get(doomed.id).message
        survivor = jobs.submit(JobParams(), speech[:8000])
        while jobs.get(survivor.id).state not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert jobs.get(survivor.id).state == "done", jobs.get(survivor.id).message
        assert jobs.engine_pid("cpu") not in (None, pid)
    finally:
        jobs.stop()


def test_queue_bound_and_retry_after(tmp_path: Path) -> None:
    jobs = manager(tmp_path, max_queue=2)
    jobs.submit(JobParams(), CLIP)
    jobs.submit(JobParams(), CLIP)
    with pytest.raises(QueueFull) as exc:
        jobs.submit(JobParams(), CLIP)
    assert exc.value.retry_after >= 1
    assert jobs.queue_depth() == 2


def _finished_jobs(jobs: JobManager, n: int) -> list[str]:
    ids = [jobs.submit(JobParams(seed=i), CLIP).id for i in range(n)]
    for job_id in ids:
        assert jobs.cancel(job_id).state == "cancelled"
    return ids


def test_prune_removes_results_older_than_keep_days(tmp_path: Path) -> None:
    jobs = manager(tmp_path, keep_days=1)
    old, new = _finished_jobs(jobs, 2)
    jobs.get(old).finished = time.time() - 2 * 86400
    jobs.prune()
    assert not (tmp_path / "jobs" / old).exists()
    with pytest.raises(JobNotFound, match="kept 1 days"):
        jobs.get(old)
    assert jobs.get(new).state == "cancelled"


def test_prune_keeps_total_size_under_budget_dropping_oldest_first(tmp_path: Path) -> None:
    record_bytes = 600  # a job.json is a few hundred bytes
    jobs = manager(tmp_path, max_results_mb=3 * record_bytes / 2**20)
    ids = _finished_jobs(jobs, 6)
    for age, job_id in enumerate(reversed(ids)):
        jobs.get(job_id).finished = time.time() - age
    jobs.prune()
    left = sorted(p.name for p in (tmp_path / "jobs").iterdir())
    assert 1 <= len(left) < 6
    assert left == sorted(ids[-len(left) :]), "the newest results are the ones kept"
    total = sum(f.stat().st_size for f in (tmp_path / "jobs").rglob("*") if f.is_file())
    assert total <= 3 * record_bytes


def test_queued_and_running_jobs_are_never_pruned(tmp_path: Path) -> None:
    jobs = manager(tmp_path, keep_days=0.0001, max_results_mb=1e-6)
    queued = jobs.submit(JobParams(), CLIP)
    jobs.get(queued.id).created = time.time() - 86400
    jobs.prune()
    assert jobs.get(queued.id).state == "queued"
    assert json.loads((tmp_path / "jobs" / queued.id / "job.json").read_text())["state"] == "queued"


def _wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * 16000), np.float32), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_wav_truncation_check() -> None:
    whole = _wav(1.0)
    check_wav_complete(whole, "a.wav")
    check_wav_complete(b"fLaC" + bytes(100), "a.flac")  # not a WAV: left to the decoder
    with pytest.raises(InputError, match=r"promises 1.00 s of audio but the file holds 0.50 s"):
        check_wav_complete(whole[: 44 + 16000], "a.wav")
    with pytest.raises(InputError, match="without audio data"):
        check_wav_complete(whole[:30], "a.wav")
    streaming = bytearray(whole)
    streaming[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # a streaming writer's placeholder size
    check_wav_complete(bytes(streaming), "a.wav")
