"""The HTTP API of DESIGN §5 (FastAPI): health, models, rigs and animation jobs under /v1."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import __version__
from core.audio import SAMPLE_RATE, decode_audio
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
from server.jobs import FINISHED, Job, JobManager, JobNotFound, JobNotReady, QueueFull
from server.schemas import (
    EngineReport,
    Health,
    JobCreated,
    JobParams,
    JobStatus,
    ModelsReport,
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


class RigNotFound(InputError):
    """The rig is unknown, or its licensed asset is not installed."""


class UploadTooLargeError(InputError):
    """The audio file is over the upload limit."""


# Error class → HTTP status; the first match in this order wins.
STATUS_FOR: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFound, 404),
    (RigNotFound, 404),
    (UploadTooLargeError, 413),
    (JobNotReady, 409),
    (QueueFull, 429),
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

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); the server log has details"}, status_code=500
        )

    def status_of(job: Job) -> JobStatus:
        return JobStatus(
            id=job.id,
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
        """Version, device, engines loaded, queue depth and limits."""
        return Health(
            status="ok",
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
            },
        )

    @app.get("/v1/models", response_model=ModelsReport)
    def models() -> ModelsReport:
        """Every engine: installed, weights present (or where to put them), options, native fps."""
        return ModelsReport(engines=[EngineReport(**pool.report(name)) for name in engine_names()])

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
        data = await audio.read()
        name = audio.filename or "audio"
        if len(data) > settings.max_upload_bytes:
            raise UploadTooLargeError(
                f"{name} is {len(data) / 2**20:.1f} MB; the limit is {settings.max_upload_mb:g} MB "
                "(send a compressed clip, or restart the server with a larger --max-upload-mb)"
            )
        check_wav_complete(data, name)
        samples = await run_in_threadpool(decode_audio, data, name)
        seconds = len(samples) / SAMPLE_RATE
        if seconds > settings.max_audio_seconds:
            raise InputError(
                f"{name} is {seconds:.1f} s long; the limit is {settings.max_audio_seconds:g} s "
                "(split the clip, or restart the server with a larger --max-audio-seconds)"
            )
        job = await run_in_threadpool(manager.submit, job_params, samples)
        url = f"/v1/jobs/{job.id}"
        body = JobCreated(id=job.id, state="queued", url=url).model_dump()
        return JSONResponse(body, status_code=202, headers={"Location": url})

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
        job = manager.get(job_id)
        if wait > 0 and job.state not in FINISHED:
            event = finished.setdefault(job_id, asyncio.Event())
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

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = FastAPI.openapi(app)
            spec["paths"]["/v1/jobs"]["post"]["requestBody"] = _JOB_REQUEST_DOC
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


def _load_rig_npz(name: str) -> bytes:
    try:
        return load_rig(name).to_npz_bytes()
    except ModelMissingError as exc:
        raise RigNotFound(str(exc)) from None


def _prefers_json(accept: str) -> bool:
    """Whether the Accept header asks for JSON rather than npz/binary."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "application/json" in kinds and NPZ not in kinds[: kinds.index("application/json")]
