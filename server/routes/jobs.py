"""``/v1/jobs``: queue a clip for animation, poll it (``?wait=`` long polls), fetch its track, cancel it."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response

from core.audio import decode_audio
from core.errors import ModelMissingError
from core.track import Track
from server.deps import Manager, ServerState, State
from server.errors import UploadTooLargeError
from server.jobs import Job
from server.renders import check_head_motion
from server.routes import NPZ
from server.schemas import JobCreated, JobStatus, engine_options, parse_params
from server.settings import Settings
from server.uploads import check_wav_complete

router = APIRouter(prefix="/v1/jobs")


@router.post("", status_code=202, response_model=JobCreated)
async def create_job(
    state: State,
    audio: Annotated[UploadFile, File(description="WAV, FLAC or OGG (MP3/M4A with ffmpeg)")],
    params: Annotated[str, Form(description="JSON object of job parameters (see JobParams)")] = "{}",
) -> JSONResponse:
    """Queue a clip for animation; poll GET /v1/jobs/{id}, then fetch its track."""
    job_params = parse_params(params)
    engine = await run_in_threadpool(state.pool.get, job_params.engine)
    ready, why = engine.status()
    if not ready:
        raise ModelMissingError(why)
    engine_options(job_params, engine, state.settings.max_transcript_chars)
    if job_params.sadtalker_head:
        check_head_motion(state.settings)
    samples = await read_audio(audio, state.settings)
    job = await run_in_threadpool(state.manager.submit, job_params, samples)
    return created(job, f"/v1/jobs/{job.id}")


def created(job: Job, url: str) -> JSONResponse:
    """202 with the new job's id and where to poll it."""
    body = JobCreated(id=job.id, state="queued", url=url).model_dump()
    return JSONResponse(body, status_code=202, headers={"Location": url})


async def read_audio(audio: UploadFile, settings: Settings) -> np.ndarray:
    """A checked, decoded audio upload (16 kHz mono float32) within the size and duration limits."""
    data = await audio.read()
    name = audio.filename or "audio"
    if len(data) > settings.max_upload_bytes:
        raise UploadTooLargeError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {settings.max_upload_mb:g} MB "
            "(send a compressed clip, or restart the server with a larger --max-upload-mb)"
        )
    check_wav_complete(data, name)
    hint = "split the clip, or restart the server with a larger --max-audio-seconds"
    samples: np.ndarray = await run_in_threadpool(decode_audio, data, name, settings.max_audio_seconds, hint)
    return samples


@router.get("", response_model=list[JobStatus])
def list_jobs(state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[JobStatus]:
    """The most recent jobs, newest first."""
    jobs = sorted(state.manager.jobs(), key=lambda j: j.created, reverse=True)[:limit]
    return [state.status_of(j) for j in jobs]


@router.get("/{job_id}", response_model=JobStatus)
async def job_status(
    job_id: str,
    state: State,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the job to finish")] = 0,
) -> JobStatus:
    """State (queued, running, done, failed, cancelled), progress 0..1 and a message.

    With ``wait``, answers as soon as the job finishes or after ``wait`` seconds, whichever is first.
    """
    return await waited_status(state, state.manager.get(job_id), wait)


async def waited_status(state: ServerState, job: Job, wait: float) -> JobStatus:
    """The status after waiting up to ``wait`` s for the job to finish; read in a worker thread, because
    the job store's lock may be held by a worker writing files, and the event loop must not wait for it."""
    await state.waiters.wait(job, wait)
    return await run_in_threadpool(state.status_of, job)


@router.get(
    "/{job_id}/track",
    response_class=Response,
    responses={200: {"content": {NPZ: {}, "application/json": {}}, "description": "the track"}},
)
def job_track(
    job_id: str,
    request: Request,
    manager: Manager,
    format: Annotated[str | None, Query(pattern="^(npz|json)$", description="overrides Accept")] = None,
) -> Response:
    """The finished track: .npz by default, JSON when ``Accept: application/json`` or ``?format=json``."""
    path = manager.track_path(job_id)
    wants_json = format == "json" or (format is None and _prefers_json(request.headers.get("accept", "")))
    if wants_json:
        return Response(Track.from_npz(path).to_json(), media_type="application/json")
    return FileResponse(path, media_type=NPZ, filename=f"{job_id}.npz")


@router.delete("/{job_id}", response_model=JobStatus)
def cancel_job(
    job_id: str,
    state: State,
    remove: Annotated[bool, Query(description="delete a finished job and its files")] = False,
) -> JobStatus | Response:
    """Cancel a queued job, or stop a running one at its next check; ``?remove=true`` deletes a finished one."""
    if remove:
        state.manager.delete(job_id)
        return Response(status_code=204)
    return state.status_of(state.manager.cancel(job_id))


def _prefers_json(accept: str) -> bool:
    """Whether the Accept header asks for JSON rather than npz/binary."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "application/json" in kinds and NPZ not in kinds[: kinds.index("application/json")]
