"""`mouthpiece serve`: run the local inference server (DESIGN §5)."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from pathlib import Path

HELP = "run the local inference server that the Blender add-on and other clients talk to"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
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
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device for engines")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest audio upload (default 50)")
    parser.add_argument("--max-audio-seconds", type=float, default=300.0, help="longest clip (default 300)")
    parser.add_argument("--max-transcript-chars", type=int, default=5000, help="longest transcript (default 5000)")
    parser.add_argument("--max-queue", type=int, default=32, help="jobs that may wait; more get 429 (default 32)")
    parser.add_argument("--keep-days", type=float, default=7.0, help="delete finished results after (default 7)")
    parser.add_argument("--max-results-mb", type=float, default=2048.0, help="disk kept for results (default 2048)")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=600.0,
        help="fail a job whose engine reports no progress for this long, and replace the engine (default 600)",
    )
    parser.add_argument(
        "--renderer-checkpoint",
        type=Path,
        help="PIRenderer weights for /v1/renders (default: <models>/styletalk/renderer_checkpoint.pt)",
    )
    parser.add_argument("--renderer-config", type=Path, help="renderer yaml (renderer_conf.yaml layout), optional")
    parser.add_argument(
        "--sadtalker-weights",
        type=Path,
        help='SadTalker safetensors for head_motion "sadtalker" (default: <models>/sadtalker/)',
    )


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn
    from pydantic import ValidationError

    from core.errors import InputError
    from server.app import create_app
    from server.schemas import describe_errors
    from server.settings import Settings

    values = {
        "host": args.host,
        "port": args.port,
        "token": args.token,
        "device": args.device,
        "max_upload_mb": args.max_upload_mb,
        "max_audio_seconds": args.max_audio_seconds,
        "max_transcript_chars": args.max_transcript_chars,
        "max_queue": args.max_queue,
        "keep_days": args.keep_days,
        "max_results_mb": args.max_results_mb,
        "stall_seconds": args.stall_seconds,
        "allowed_hosts": tuple(args.allow_host),
        "allowed_origins": tuple(args.allow_origin),
    }
    for name in ("data_dir", "renderer_checkpoint", "renderer_config", "sadtalker_weights"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name).expanduser().resolve()
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise InputError(describe_errors(list(exc.errors()))) from None
    sock = _bind(settings.host, settings.port)  # first: a busy port is refused before any job is touched
    app = create_app(settings)
    app.state.manager.claim_data_dir()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
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
