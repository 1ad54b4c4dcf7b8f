"""The HTTP API of DESIGN §5 (FastAPI): health, models, rigs, animation jobs and neural renders under /v1.

A render is a job of kind ``render`` in the same queue, worker and store: ``/v1/jobs/{id}`` answers for it
too, and ``/v1/renders/{id}`` (status, DELETE to cancel) and ``/v1/renders/{id}/video`` are its own paths.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import __version__
from core.audio import decode_audio
from core.engines import engine_names
from core.errors import (
    InputError,
    ModelFormatError,
    ModelMissingError,
    MouthpieceError,
    UnsupportedMediaError,
)
from core.rigs import RIG_NAMES, load_rig
from core.track import Track
from server.auth import BearerTokenMiddleware
from server.engine_pool import EnginePool, EngineUnavailable
from server.jobs import FINISHED, Job, JobManager, JobNotFound, JobNotReady, QueueFull, StorageFull
from server.origin import OriginGuardMiddleware
from server.renders import (
    check_head_motion,
    check_renderable,
    check_renderer,
    head_motion_report,
    image_size,
    read_portrait,
    read_track,
    renderer_report,
)
from server.schemas import (
    EngineReport,
    Health,
    JobCreated,
    JobParams,
    JobStatus,
    ModelsReport,
    RenderParams,
    describe_errors,
    engine_options,
    parse_params,
)
from server.settings import Settings
from server.uploads import UploadLimitMiddleware, check_wav_complete

log = logging.getLogger("mouthpiece.server")

MULTIPART_SLACK = 64 * 1024
"""Room for the multipart framing and the params field on top of the audio size limit."""

NPZ = "application/x-npz"
MP4 = "video/mp4"


class RigNotFound(InputError):
    """The rig is unknown, or its licensed asset is not installed."""


class UploadTooLargeError(InputError):
    """The audio file is over the upload limit."""


class RenderNotFound(JobNotFound):
    """The id is an animation job, not a render."""


# Error class → HTTP status; the first match in this order wins.
STATUS_FOR: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFound, 404),
    (RigNotFound, 404),
    (UploadTooLargeError, 413),
    (JobNotReady, 409),
    (QueueFull, 429),
    (StorageFull, 507),
    (UnsupportedMediaError, 415),
    (ModelMissingError, 409),
    (ModelFormatError, 409),
    (EngineUnavailable, 409),
    (InputError, 400),
    (MouthpieceError, 400),
)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; its workers start with the ASGI lifespan and stop with it."""
    settings.check()
    device = settings.resolved_device()
    pool = EnginePool(device)
    manager = JobManager(settings, pool)
    rig_cache: dict[str, bytes] = {}
    rig_lock = threading.Lock()
    finished: dict[str, asyncio.Event] = {}  # job id → set when it finishes, for ?wait= requests

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def wake(job_id: str) -> None:
            event = finished.pop(job_id, None)
            if event is not None:
                event.set()

        manager.on_finish = lambda job: loop.call_soon_threadsafe(wake, job.id)
        manager.start()
        log.info("mouthpiece server %s on %s, results in %s", __version__, device, settings.data_dir)
        try:
            yield
        finally:
            await run_in_threadpool(manager.stop)

    app = FastAPI(
        title="Mouthpiece",
        version=__version__,
        summary="Speech-driven face animation: audio in, coefficient track out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.manager = manager
    app.state.pool = pool
    app.add_middleware(
        UploadLimitMiddleware,
        max_bytes=settings.max_upload_bytes + MULTIPART_SLACK,
        limit_text=f"{settings.max_upload_mb:g} MB",
    )
    if settings.token:
        app.add_middleware(BearerTokenMiddleware, token=settings.token)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
        )
    app.add_middleware(  # outermost: a foreign Host or Origin is refused before anything else
        OriginGuardMiddleware,
        bind_host=settings.host,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
    )

    @app.exception_handler(MouthpieceError)
    async def mouthpiece_error(_: Request, exc: MouthpieceError) -> JSONResponse:
        status = next(code for cls, code in STATUS_FOR if isinstance(exc, cls))
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QueueFull) else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": f"invalid request: {describe_errors(list(exc.errors()))}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
            detail = (
                f"no endpoint {request.method} {request.url.path}; the API lives under /v1 and is described at /docs"
            )
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(MemoryError)
    async def out_of_memory(_: Request, exc: MemoryError) -> JSONResponse:
        log.error("a request ran out of memory: %s", exc)
        return JSONResponse(
            {"detail": "the server ran out of memory for this request; send a shorter clip or a smaller file"},
            status_code=503,
        )

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); the server log has details"}, status_code=500
        )

    def status_of(job: Job) -> JobStatus:
        return JobStatus(
            id=job.id,
            kind=job.kind,
            state=job.state,
            progress=job.progress,
            message=job.message,
            engine=job.engine,
            audio_seconds=job.audio_seconds,
            created=job.created,
            started=job.started,
            finished=job.finished,
            queue_position=manager.queue_position(job),
        )

    @app.get("/v1/health", response_model=Health)
    def health() -> Health:
        """Version, device, engines loaded, queue depth and limits; ``degraded`` with the problems, if any."""
        problems = manager.worker_problems()
        return Health(
            status="degraded" if problems else "ok",
            problems=problems,
            version=__version__,
            device=device,
            engines_loaded=manager.engines_loaded(),
            queue_depth=manager.queue_depth(),
            running=manager.running(),
            limits={
                "max_upload_mb": settings.max_upload_mb,
                "max_audio_seconds": settings.max_audio_seconds,
                "max_transcript_chars": settings.max_transcript_chars,
                "max_queue": settings.max_queue,
                "stall_seconds": settings.stall_seconds,
            },
        )

    @app.get("/v1/models", response_model=ModelsReport)
    def models() -> ModelsReport:
        """Every engine: installed, weights present (or where to put them), options, native fps."""
        return ModelsReport(
            engines=[EngineReport(**pool.report(name)) for name in engine_names()],
            renderer=renderer_report(settings),
            head_motion=head_motion_report(settings),
        )

    @app.get(
        "/v1/rigs/{rig}",
        response_class=Response,
        responses={200: {"content": {NPZ: {}}, "description": "the rig wire form (.npz)"}},
    )
    def rig(rig: str) -> Response:
        """Mesh, basis, landmarks and joints of a rig as one .npz, for building the head."""
        if rig not in RIG_NAMES:
            raise RigNotFound(f"unknown rig '{rig}'; choose one of: {', '.join(RIG_NAMES)}")
        with rig_lock:
            if rig not in rig_cache:
                rig_cache[rig] = _load_rig_npz(rig)
        return Response(
            rig_cache[rig], media_type=NPZ, headers={"Content-Disposition": f'attachment; filename="{rig}.npz"'}
        )

    @app.post("/v1/jobs", status_code=202, response_model=JobCreated)
    async def create_job(
        audio: Annotated[UploadFile, File(description="WAV, FLAC or OGG (MP3/M4A with ffmpeg)")],
        params: Annotated[str, Form(description="JSON object of job parameters (see JobParams)")] = "{}",
    ) -> JSONResponse:
        """Queue a clip for animation; poll GET /v1/jobs/{id}, then fetch its track."""
        job_params = parse_params(params)
        engine = await run_in_threadpool(pool.get, job_params.engine)
        ready, why = engine.status()
        if not ready:
            raise ModelMissingError(why)
        engine_options(job_params, engine, settings.max_transcript_chars)
        if job_params.sadtalker_head:
            check_head_motion(settings)
        samples = await read_audio(audio)
        job = await run_in_threadpool(manager.submit, job_params, samples)
        url = f"/v1/jobs/{job.id}"
        body = JobCreated(id=job.id, state="queued", url=url).model_dump()
        return JSONResponse(body, status_code=202, headers={"Location": url})

    async def read_audio(audio: UploadFile) -> np.ndarray:
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
        samples = await run_in_threadpool(decode_audio, data, name, settings.max_audio_seconds, hint)
        return samples

    @app.get("/v1/jobs", response_model=list[JobStatus])
    def list_jobs(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[JobStatus]:
        """The most recent jobs, newest first."""
        jobs = sorted(manager.jobs(), key=lambda j: j.created, reverse=True)[:limit]
        return [status_of(j) for j in jobs]

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus)
    async def job_status(
        job_id: str,
        wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the job to finish")] = 0,
    ) -> JobStatus:
        """State (queued, running, done, failed, cancelled), progress 0..1 and a message.

        With ``wait``, answers as soon as the job finishes or after ``wait`` seconds, whichever is first.
        """
        return await waited_status(manager.get(job_id), wait)

    async def waited_status(job: Job, wait: float) -> JobStatus:
        if wait > 0 and job.state not in FINISHED:
            event = finished.setdefault(job.id, asyncio.Event())
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait)
        return status_of(job)

    @app.get(
        "/v1/jobs/{job_id}/track",
        response_class=Response,
        responses={200: {"content": {NPZ: {}, "application/json": {}}, "description": "the track"}},
    )
    def job_track(
        job_id: str,
        request: Request,
        format: Annotated[str | None, Query(pattern="^(npz|json)$", description="overrides Accept")] = None,
    ) -> Response:
        """The finished track: .npz by default, JSON when ``Accept: application/json`` or ``?format=json``."""
        path = manager.track_path(job_id)
        wants_json = format == "json" or (format is None and _prefers_json(request.headers.get("accept", "")))
        if wants_json:
            return Response(Track.from_npz(path).to_json(), media_type="application/json")
        return FileResponse(path, media_type=NPZ, filename=f"{job_id}.npz")

    @app.delete("/v1/jobs/{job_id}", response_model=JobStatus)
    def cancel_job(
        job_id: str,
        remove: Annotated[bool, Query(description="delete a finished job and its files")] = False,
    ) -> JobStatus | Response:
        """Cancel a queued job, or stop a running one at its next check; ``?remove=true`` deletes a finished one."""
        if remove:
            manager.delete(job_id)
            return Response(status_code=204)
        return status_of(manager.cancel(job_id))

    # ---- neural renders ---------------------------------------------------------------------
    @app.post("/v1/renders", status_code=202, response_model=JobCreated)
    async def create_render(
        image: Annotated[UploadFile, File(description="the portrait (PNG/JPEG), centre-cropped to a square")],
        track: Annotated[UploadFile | None, File(description="a bfm track (.npz or .json); or give job")] = None,
        job: Annotated[str | None, Form(description="id of a finished animation job whose track to render")] = None,
        audio: Annotated[UploadFile | None, File(description="speech to mux in; default: the job's audio")] = None,
        params: Annotated[str, Form(description="JSON object of render parameters (see RenderParams)")] = "{}",
    ) -> JSONResponse:
        """Queue a talking-portrait video of a bfm track; poll GET /v1/renders/{id}, then fetch its video."""
        render_params = parse_params(params, RenderParams)
        if (track is None) == (job is None):
            raise InputError("send either a track file (field 'track') or the id of a finished job (field 'job')")
        check_renderer(settings)
        size = await run_in_threadpool(image_size, settings)
        sound = await read_audio(audio) if audio is not None else None
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
        created = await run_in_threadpool(manager.submit_render, render_params, take, portrait, sound)
        url = f"/v1/renders/{created.id}"
        body = JobCreated(id=created.id, state="queued", url=url).model_dump()
        return JSONResponse(body, status_code=202, headers={"Location": url})

    def render_job(render_id: str) -> Job:
        job = manager.get(render_id)
        if job.kind != "render":
            raise RenderNotFound(f"no render '{render_id}': it is an animation job (GET /v1/jobs/{render_id})")
        return job

    @app.get("/v1/renders/{render_id}", response_model=JobStatus)
    async def render_status(
        render_id: str,
        wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the render to finish")] = 0,
    ) -> JobStatus:
        """State, progress 0..1 and a message of a render (also at GET /v1/jobs/{id})."""
        return await waited_status(render_job(render_id), wait)

    @app.get(
        "/v1/renders/{render_id}/video",
        response_class=FileResponse,
        responses={200: {"content": {MP4: {}}, "description": "H.264 mp4 with the speech as AAC"}},
    )
    def render_video(render_id: str) -> FileResponse:
        """The finished video."""
        render_job(render_id)
        return FileResponse(manager.video_path(render_id), media_type=MP4, filename=f"{render_id}.mp4")

    @app.delete("/v1/renders/{render_id}", response_model=JobStatus)
    def cancel_render(render_id: str) -> JobStatus:
        """Cancel a queued render, or stop a running one after its current batch of frames."""
        render_job(render_id)
        return status_of(manager.cancel(render_id))

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = FastAPI.openapi(app)
            spec["paths"]["/v1/jobs"]["post"]["requestBody"] = _JOB_REQUEST_DOC
            spec["paths"]["/v1/renders"]["post"]["requestBody"] = _RENDER_REQUEST_DOC
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_JOB_REQUEST_DOC = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["audio"],
                "properties": {
                    "audio": {"type": "string", "format": "binary", "description": "the clip"},
                    "params": JobParams.model_json_schema(),
                },
            },
            "encoding": {"params": {"contentType": "application/json"}},
        }
    },
}
"""The multipart body as clients should send it: ``params`` is a JSON object (FastAPI sees a string)."""

_RENDER_REQUEST_DOC = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "format": "binary", "description": "the portrait"},
                    "track": {"type": "string", "format": "binary", "description": "a bfm track (.npz/.json)"},
                    "job": {"type": "string", "description": "or: a finished animation job's id"},
                    "audio": {"type": "string", "format": "binary", "description": "speech; default: the job's"},
                    "params": RenderParams.model_json_schema(),
                },
            },
            "encoding": {"params": {"contentType": "application/json"}},
        }
    },
}


def _load_rig_npz(name: str) -> bytes:
    try:
        return load_rig(name).to_npz_bytes()
    except ModelMissingError as exc:
        raise RigNotFound(str(exc)) from None


def _prefers_json(accept: str) -> bool:
    """Whether the Accept header asks for JSON rather than npz/binary."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "application/json" in kinds and NPZ not in kinds[: kinds.index("application/json")]
