"""The job store without HTTP: restart recovery, pruning by age and size, the WAV truncation check."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import load_audio
from core.errors import InputError
from core.track import Track
from server.engine_pool import EnginePool
from server.jobs import JobManager, JobNotFound, JobNotReady, QueueFull
from server.schemas import JobParams, RenderParams, engine_options
from server.settings import Settings
from server.uploads import check_wav_complete

CLIP = np.zeros(8000, dtype=np.float32)
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"


def manager(tmp_path: Path, **overrides) -> JobManager:
    return JobManager(Settings(data_dir=tmp_path, device="cpu", **overrides), EnginePool("cpu"))


def wait_settled(jobs: JobManager, job_id: str, timeout: float = 60) -> None:
    """Wait until a job is done or failed."""
    deadline = time.monotonic() + timeout
    while jobs.get(job_id).state not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_queued_jobs_survive_a_restart_and_lost_audio_fails_clearly(tmp_path: Path) -> None:
    first = manager(tmp_path)  # never started: jobs stay queued, as if the server died
    kept = first.submit(JobParams(seed=1), CLIP)
    lost = first.submit(JobParams(seed=2), CLIP)
    (tmp_path / "jobs" / lost.id / "audio.npy").unlink()

    second = manager(tmp_path)
    second.start()
    try:
        wait_settled(second, kept.id)
        assert second.get(kept.id).state == "done", second.get(kept.id).message
        assert (tmp_path / "jobs" / kept.id / "track.npz").is_file()
        assert (tmp_path / "jobs" / kept.id / "audio.npy").is_file(), "a finished job keeps its audio for renders"
        assert second.get(lost.id).state == "failed"
        assert "submit it again" in second.get(lost.id).message
    finally:
        second.stop()


@pytest.mark.slow
def test_queued_renders_survive_a_restart_and_keep_no_spent_input(tmp_path: Path, reference_dir: Path) -> None:
    settings = {
        "renderer_checkpoint": reference_dir / "pirender_small.pt",
        "renderer_config": reference_dir / "pirender_small_config.json",
    }
    track = Track(fps=30.0, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=np.zeros((3, 64)))
    portrait = np.full((64, 64, 3), 128, np.uint8)
    first = manager(tmp_path, **settings)  # never started, as if the server died
    kept = first.submit_render(RenderParams(fps=30), track, portrait, np.zeros(1600, np.float32))
    lost = first.submit_render(RenderParams(), track, portrait, None)
    (tmp_path / "jobs" / lost.id / "portrait.npy").unlink()

    second = manager(tmp_path, **settings)
    second.start()
    try:
        wait_settled(second, kept.id)
        assert second.get(kept.id).state == "done", second.get(kept.id).message
        assert second.get(kept.id).kind == "render"
        assert sorted(p.name for p in (tmp_path / "jobs" / kept.id).iterdir()) == ["input.npz", "job.json", "video.mp4"]
        assert second.video_path(kept.id).stat().st_size > 0
        with pytest.raises(JobNotReady, match="is a render"):
            second.track_path(kept.id)
        assert second.get(lost.id).state == "failed" and "input is gone" in second.get(lost.id).message
    finally:
        second.stop()


def test_sadtalker_head_motion_keeps_the_engines_head_still() -> None:
    from core.engines import get_engine

    builtin = get_engine("builtin")
    options = engine_options(JobParams(head_motion="sadtalker", pose_style=4), builtin, 100)
    assert options.extra["head_motion"] is False and "pose_style" not in options.extra
    assert engine_options(JobParams(), builtin, 100).extra["head_motion"] is True
    own = JobParams(engine="sadtalker", head_motion="sadtalker", pose_style=4)
    assert not own.sadtalker_head, "the sadtalker engine's own motion is PoseVAE's"


def test_job_params_make_the_pipelines_request() -> None:
    from core.pipeline import AnimateRequest

    params = JobParams(
        head_motion=False, fps=24, rig="flame", seed=9, emotion_keys=[(0.0, "happy", 1.0)], loudness="clip"
    )
    assert AnimateRequest.from_params(params) == AnimateRequest(
        head_motion="none", fps=24, rig="flame", seed=9, emotion_keys=[(0.0, "happy", 1.0)], loudness="clip"
    )
    assert AnimateRequest.from_params(params).options().extra["loudness"] == "clip"
    assert "loudness" not in AnimateRequest.from_params(JobParams()).options().extra  # the engine's default
    moved = {True: "engine", False: "none", "sadtalker": "sadtalker"}
    for value, source in moved.items():
        assert AnimateRequest.from_params(JobParams(head_motion=value)).head_motion == source


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


class SlowAudio:
    """A clip whose samples arrive only when ``go`` is set: its write holds the submission in its inputs."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples, self.writing, self.go = samples, threading.Event(), threading.Event()

    def __len__(self) -> int:
        return len(self.samples)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        self.writing.set()
        assert self.go.wait(30)
        return self.samples


def test_a_submission_writing_its_inputs_holds_no_lock(tmp_path: Path) -> None:
    jobs = manager(tmp_path, max_queue=1)
    slow = SlowAudio(CLIP)
    with ThreadPoolExecutor(2) as pool:
        storing = pool.submit(jobs.submit, JobParams(), slow)
        assert slow.writing.wait(30)
        answers = pool.submit(lambda: (jobs.queue_depth(), jobs.running(), len(jobs.jobs())))
        assert answers.result(timeout=10) == (0, 0, 0), "status reads waited for a job's input write"
        with pytest.raises(QueueFull, match=r"1 jobs waiting, limit 1"):  # the job being stored holds its place
            jobs.submit(JobParams(), CLIP)
        slow.go.set()
        job = storing.result(timeout=30)
    assert jobs.queue_depth() == 1 and jobs.get(job.id).state == "queued"
    assert np.array_equal(np.load(tmp_path / "jobs" / job.id / "audio.npy"), CLIP)


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


def test_loudness_clip_is_refused_for_an_engine_without_that_option() -> None:
    from core.engines import get_engine
    from server.schemas import animate_request

    with pytest.raises(InputError, match=r"engine 'emote' has no loudness option .*; leave loudness out"):
        animate_request(JobParams(engine="emote", loudness="clip"), get_engine("emote"), 100)
    assert animate_request(JobParams(loudness="clip"), get_engine("builtin"), 100).loudness == "clip"


def test_no_reader_sees_a_finish_that_the_disk_takes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker sets a job done, its record cannot be saved, and the job goes back to how it was (the
    worker then fails it): a status read meanwhile waits and never sees "done"."""
    jobs = manager(tmp_path)
    job = jobs.submit(JobParams(), CLIP)
    saving, release = threading.Event(), threading.Event()

    def failing_save(_job) -> None:
        saving.set()
        release.wait(5)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jobs, "_save", failing_save)
    raised: list[OSError] = []

    def finish() -> None:
        with jobs._lock:
            try:
                jobs._finish_locked(job, "done", "")
            except OSError as exc:
                raised.append(exc)

    finisher = threading.Thread(target=finish)
    finisher.start()
    assert saving.wait(5)
    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(jobs.progress_of, job)
        time.sleep(0.2)
        assert not seen.done(), "the status read waits for the finish to settle"
        release.set()
        assert seen.result(5)["state"] == "queued"
    finisher.join(5)
    assert raised and job.state == "queued"
