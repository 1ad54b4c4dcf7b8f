"""``/v1/renders``: queue a talking-portrait video of a bfm track, poll it, fetch the mp4, cancel it.

A render is a job of kind ``render`` in the same queue, worker and store: ``/v1/jobs/{id}`` answers for it too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from core.errors import InputError
from core.track import Track
from server.deps import ServerState, State
from server.errors import RenderNotFound
from server.jobs import Job, JobNotReady
from server.renders import check_renderable, check_renderer, image_size, read_portrait, read_track
from server.routes import MP4
from server.routes.jobs import created, read_audio, waited_status
from server.schemas import JobCreated, JobStatus, RenderParams, parse_params

router = APIRouter(prefix="/v1/renders")


@router.post("", status_code=202, response_model=JobCreated)
async def create_render(
    state: State,
    image: Annotated[UploadFile, File(description="the portrait (PNG/JPEG), centre-cropped to a square")],
    track: Annotated[UploadFile | None, File(description="a bfm track (.npz or .json); or give job")] = None,
    job: Annotated[str | None, Form(description="id of a finished animation job whose track to render")] = None,
    audio: Annotated[UploadFile | None, File(description="speech to mux in; default: the job's audio")] = None,
    params: Annotated[str, Form(description="JSON object of render parameters (see RenderParams)")] = "{}",
) -> JSONResponse:
    """Queue a talking-portrait video of a bfm track; poll GET /v1/renders/{id}, then fetch its video."""
    settings, manager = state.settings, state.manager
    render_params = parse_params(params, RenderParams)
    if (track is None) == (job is None):
        raise InputError("send either a track file (field 'track') or the id of a finished job (field 'job')")
    check_renderer(settings)
    size = await run_in_threadpool(image_size, settings)
    sound = await read_audio(audio, settings) if audio is not None else None
    if job is not None:
        take = await run_in_threadpool(Track.from_npz, manager.track_path(job))
        if sound is None:
            sound = await run_in_threadpool(manager.audio_of, job)
            if sound is None:
                raise JobNotReady(f"job '{job}' no longer keeps its audio; send the audio with the render")
    else:
        assert track is not None
        take = await run_in_threadpool(read_track, await track.read(), track.filename or "track")
    check_renderable(take, settings.max_audio_seconds)
    portrait = await run_in_threadpool(read_portrait, await image.read(), image.filename or "image", size)
    render = await run_in_threadpool(manager.submit_render, render_params, take, portrait, sound)
    return created(render, f"/v1/renders/{render.id}")


def render_job(state: ServerState, render_id: str) -> Job:
    """The render ``render_id``; :class:`RenderNotFound` for an animation job's id."""
    job = state.manager.get(render_id)
    if job.kind != "render":
        raise RenderNotFound(f"no render '{render_id}': it is an animation job (GET /v1/jobs/{render_id})")
    return job


@router.get("/{render_id}", response_model=JobStatus)
async def render_status(
    render_id: str,
    state: State,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the render to finish")] = 0,
) -> JobStatus:
    """State, progress 0..1 and a message of a render (also at GET /v1/jobs/{id})."""
    return await waited_status(state, render_job(state, render_id), wait)


@router.get(
    "/{render_id}/video",
    response_class=FileResponse,
    responses={200: {"content": {MP4: {}}, "description": "H.264 mp4 with the speech as AAC"}},
)
def render_video(render_id: str, state: State) -> FileResponse:
    """The finished video."""
    render_job(state, render_id)
    return FileResponse(state.manager.video_path(render_id), media_type=MP4, filename=f"{render_id}.mp4")


@router.delete("/{render_id}", response_model=JobStatus)
def cancel_render(render_id: str, state: State) -> JobStatus:
    """Cancel a queued render, or stop a running one after its current batch of frames."""
    render_job(state, render_id)
    return state.status_of(state.manager.cancel(render_id))
