"""Upload guards: a body-size cap enforced while the request streams in, and a truncated-WAV check."""

from __future__ import annotations

import asyncio
import struct

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import InputError

LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5.0


class UploadTooLarge(Exception):
    """Raised inside ``receive`` when a request body passes the cap."""


class UploadLimitMiddleware:
    """Answer 413 to a POST whose body is larger than ``max_bytes``, without reading the rest of it.

    A declared ``Content-Length`` over the cap is refused before the body is touched; a body sent
    without one (chunked) is counted as it arrives and refused the moment it passes the cap. Before the
    413 goes out, what the client is still sending is read and thrown away, within bounds (like nginx's
    lingering close): a server that closes on unread data resets the connection, and the client would
    never see the answer. Nothing is kept, so memory stays flat whatever the upload's size.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, limit_text: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = (
            f"the upload is larger than the server's limit of {limit_text}; "
            "send a shorter or compressed clip (FLAC/OGG/MP3), or restart the server with a larger --max-upload-mb"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            if int(declared) <= LINGER_BYTES:
                await _discard_body(receive)
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise UploadTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # once over the cap, whatever the app makes of the cut-off body is replaced by the 413
            nonlocal started
            if exceeded and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _discard_body(receive)
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": self.detail}, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


async def _discard_body(receive: Receive) -> None:
    """Read and drop what the client is still sending, up to LINGER_BYTES or LINGER_SECONDS."""
    discarded = 0
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            while discarded < LINGER_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                discarded += len(message.get("body", b""))
    except TimeoutError:
        return


def check_wav_complete(data: bytes, name: str) -> None:
    """Refuse a RIFF/WAVE file whose ``data`` chunk is shorter than its header says.

    soundfile quietly decodes what is there, which would animate half a clip without a word.
    Streaming writers' placeholder sizes (0 and 0xFFFFFFFF) are accepted.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    byte_rate = 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt " and body + 12 <= len(data):
            byte_rate = struct.unpack("<I", data[body + 8 : body + 12])[0]
        if chunk_id == b"data":
            present = len(data) - body
            if size in (0, 0xFFFFFFFF) or present >= size:
                return
            if byte_rate:
                raise InputError(
                    f"{name} is truncated: its header promises {size / byte_rate:.2f} s of audio "
                    f"but the file holds {present / byte_rate:.2f} s; upload the complete file"
                )
            raise InputError(
                f"{name} is truncated: its header promises {size} bytes of audio but the file holds "
                f"{present}; upload the complete file"
            )
        pos = body + size + (size & 1)
    raise InputError(f"{name} is a WAV file without audio data (no complete 'data' chunk); upload the complete file")
