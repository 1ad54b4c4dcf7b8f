"""``/v1/health``, ``/v1/models`` and ``/v1/rigs/{rig}``: what the server is and has."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core import __version__
from core.engines import engine_names
from server.deps import State
from server.renders import head_motion_report, renderer_report
from server.routes import NPZ
from server.schemas import EngineReport, Health, ModelsReport

router = APIRouter(prefix="/v1")


@router.get("/health", response_model=Health)
def health(state: State) -> Health:
    """Version, device, engines loaded, queue depth and limits; ``degraded`` with the problems, if any."""
    manager, settings = state.manager, state.settings
    problems = manager.worker_problems()
    return Health(
        status="degraded" if problems else "ok",
        problems=problems,
        version=__version__,
        device=state.device,
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


@router.get("/models", response_model=ModelsReport)
def models(state: State) -> ModelsReport:
    """Every engine: installed, weights present (or where to put them), options, native fps."""
    return ModelsReport(
        engines=[EngineReport(**state.pool.report(name)) for name in engine_names()],
        renderer=renderer_report(state.settings),
        head_motion=head_motion_report(state.settings),
    )


@router.get(
    "/rigs/{rig}",
    response_class=Response,
    responses={200: {"content": {NPZ: {}}, "description": "the rig wire form (.npz)"}},
)
def rig(rig: str, state: State) -> Response:
    """Mesh, basis, landmarks and joints of a rig as one .npz, for building the head."""
    return Response(
        state.rigs.npz(rig), media_type=NPZ, headers={"Content-Disposition": f'attachment; filename="{rig}.npz"'}
    )
