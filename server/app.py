"""The HTTP API of DESIGN §5 (FastAPI): health, models, rigs, animation jobs and neural renders under /v1.

The routes live in ``server/routes/`` (one router per area) and get what they share (settings, engine
pool, job store) as dependencies (``server/deps.py``). Authentication, origin checks and the upload limit
are middleware: they answer for every path, ``/docs`` and unknown ones included, before a body is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from core import __version__
from server.auth import BearerTokenMiddleware
from server.deps import ServerState
from server.engine_pool import EnginePool
from server.errors import add_error_handlers
from server.jobs import JobManager
from server.origin import OriginGuardMiddleware
from server.routes import jobs, models, renders
from server.schemas import JobParams, RenderParams
from server.settings import Settings
from server.uploads import UploadLimitMiddleware

log = logging.getLogger("mouthpiece.server")

MULTIPART_SLACK = 64 * 1024
"""Room for the multipart framing and the params field on top of the audio size limit."""


def create_app(settings: Settings) -> FastAPI:
    """Build the app; its workers start with the ASGI lifespan and stop with it."""
    settings.check()
    device = settings.resolved_device()
    pool = EnginePool(device)
    state = ServerState(settings, device, pool, JobManager(settings, pool))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.waiters.attach(state.manager, asyncio.get_running_loop())
        state.manager.start()
        log.info("mouthpiece server %s on %s, results in %s", __version__, device, settings.data_dir)
        try:
            yield
        finally:
            await run_in_threadpool(state.manager.stop)

    app = FastAPI(
        title="Mouthpiece",
        version=__version__,
        summary="Speech-driven face animation: audio in, coefficient track out.",
        lifespan=lifespan,
    )
    app.state.server = state
    app.state.manager = state.manager  # for `mouthpiece serve`, which claims the data folder before it listens
    _add_middleware(app, settings)
    add_error_handlers(app)
    for area in (models, jobs, renders):
        app.include_router(area.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Upload limit, token, CORS, and outermost the Host/Origin guard (the last added runs first)."""
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


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec with the multipart bodies as clients send them."""
    if app.openapi_schema is None:
        spec = FastAPI.openapi(app)
        spec["paths"]["/v1/jobs"]["post"]["requestBody"] = _JOB_REQUEST_DOC
        spec["paths"]["/v1/renders"]["post"]["requestBody"] = _RENDER_REQUEST_DOC
        app.openapi_schema = spec
    return app.openapi_schema


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
