"""HTTP errors: the server's own error classes, the status each error class answers with, and the handlers
that turn every error into one ``{"detail": "..."}`` line (never a traceback)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import InputError, ModelFormatError, ModelMissingError, MouthpieceError, UnsupportedMediaError
from server.engine_pool import EngineUnavailable
from server.jobs import JobNotFound, JobNotReady, QueueFull, StorageFull
from server.schemas import describe_errors

log = logging.getLogger("mouthpiece.server")


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


async def mouthpiece_error(_: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in STATUS_FOR if isinstance(exc, cls))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QueueFull) else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": f"invalid request: {describe_errors(list(exc.errors()))}"}, status_code=422)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
        detail = f"no endpoint {request.method} {request.url.path}; the API lives under /v1 and is described at /docs"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def out_of_memory(_: Request, exc: Exception) -> JSONResponse:
    log.error("a request ran out of memory: %s", exc)
    return JSONResponse(
        {"detail": "the server ran out of memory for this request; send a shorter clip or a smaller file"},
        status_code=503,
    )


async def internal_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); the server log has details"}, status_code=500
    )


def add_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(MouthpieceError, mouthpiece_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(MemoryError, out_of_memory)
    app.add_exception_handler(Exception, internal_error)
