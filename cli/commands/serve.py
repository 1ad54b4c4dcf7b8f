"""`mouthpiece serve`: run the local inference server (DESIGN §5)."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.settings import Settings

HELP = "run the local inference server that the Blender add-on and other clients talk to"


SETTING_OPTIONS = (
    "host",
    "port",
    "token",
    "device",
    "max_upload_mb",
    "max_audio_seconds",
    "max_transcript_chars",
    "max_queue",
    "keep_days",
    "max_results_mb",
    "stall_seconds",
    "header_timeout",
)
"""Options passed to :class:`server.settings.Settings` as given; left out, the setting's own default applies."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.model_files import RENDERER, SADTALKER
    from server.settings import Settings

    default = {name: field.default for name, field in Settings.model_fields.items()}
    parser.add_argument("--host", help=f"address to bind (default {default['host']}; others need --token)")
    parser.add_argument("--port", type=int, help=f"port (default {default['port']})")
    parser.add_argument("--data-dir", type=Path, help="where job results are kept (default ~/.mouthpiece/data)")
    parser.add_argument(
        "--token",
        default=os.environ.get("MOUTHPIECE_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' on every request (default: $MOUTHPIECE_TOKEN)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests naming this host (e.g. a reverse proxy's); repeatable",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from this origin (https://tool.example) call the server; repeatable; none by default",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help=f"torch device for engines (default {default['device']})"
    )
    parser.add_argument(
        "--max-upload-mb", type=float, help=f"largest audio upload (default {default['max_upload_mb']:g})"
    )
    parser.add_argument(
        "--max-audio-seconds", type=float, help=f"longest clip (default {default['max_audio_seconds']:g})"
    )
    parser.add_argument(
        "--max-transcript-chars", type=int, help=f"longest transcript (default {default['max_transcript_chars']})"
    )
    parser.add_argument(
        "--max-queue", type=int, help=f"jobs that may wait; more get 429 (default {default['max_queue']})"
    )
    parser.add_argument(
        "--keep-days", type=float, help=f"delete finished results after (default {default['keep_days']:g})"
    )
    parser.add_argument(
        "--max-results-mb", type=float, help=f"disk kept for results (default {default['max_results_mb']:g})"
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        help="fail a job whose engine reports no progress for this long, and replace the engine "
        f"(default {default['stall_seconds']:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help="answer 408 and close a connection whose request line and headers take longer than this "
        f"(default {default['header_timeout']:g})",
    )
    parser.add_argument(
        "--renderer-checkpoint",
        type=Path,
        help=f"PIRenderer weights for /v1/renders (default: <models>/{RENDERER.layout})",
    )
    parser.add_argument("--renderer-config", type=Path, help="renderer yaml (renderer_conf.yaml layout), optional")
    parser.add_argument(
        "--sadtalker-weights",
        type=Path,
        help=f'SadTalker safetensors for head_motion "sadtalker" (default: <models>/{SADTALKER.layout})',
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The server's settings: the options given, the settings' own defaults for the rest."""
    from pydantic import ValidationError

    from core.errors import InputError
    from server.schemas import describe_errors
    from server.settings import Settings

    values = {name: getattr(args, name) for name in SETTING_OPTIONS if getattr(args, name) is not None}
    values |= {"allowed_hosts": tuple(args.allow_host), "allowed_origins": tuple(args.allow_origin)}
    for name in ("data_dir", "renderer_checkpoint", "renderer_config", "sadtalker_weights"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name).expanduser().resolve()
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise InputError(describe_errors(list(exc.errors()))) from None


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from server.app import create_app
    from server.slow_clients import with_header_timeout

    settings = settings_from_args(args)
    sock = _bind(settings.host, settings.port)  # first: a busy port is refused before any job is touched
    app = create_app(settings)
    app.state.manager.claim_data_dir()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = uvicorn.Server(uvicorn.Config(app, http=with_header_timeout(settings.header_timeout), log_level="info"))
    server.run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a one-line error saying why not."""
    from core.errors import InputError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        hint = " (is another mouthpiece serve running? stop it or pass --port)" if exc.errno == errno.EADDRINUSE else ""
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    return sock
