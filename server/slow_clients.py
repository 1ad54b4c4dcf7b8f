"""A deadline on each request's line and headers: a client that dribbles them (a byte a second) gets
``408 Request Timeout`` and is closed instead of holding a connection open forever.

The clock runs from when a connection opens, or from the first byte of the next request on a kept-alive
one, until the headers are complete; idle kept-alive connections stay on uvicorn's ``timeout_keep_alive``,
and a request body, however slow, is not timed.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

TIMEOUT_MESSAGE = b"the request line and headers did not arrive in time\n"


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline of :attr:`header_timeout` seconds."""

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._track_headers()

    def _track_headers(self) -> None:
        """Run the deadline while a request's headers are awaited and the keep-alive timer is not running."""
        awaiting = self.conn.their_state is h11.IDLE and self.timeout_keep_alive_task is None
        if not awaiting or self.transport.is_closing():
            self._stop_header_timer()
        elif self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        client = "{}:{} - ".format(*self.client) if self.client else ""
        self.logger.warning("%sRequest headers not received within %gs; closing", client, self.header_timeout)
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(TIMEOUT_MESSAGE)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"),
                h11.Data(data=TIMEOUT_MESSAGE),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:
            pass  # h11 cannot answer in its state: closing is all that is left
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to pass uvicorn as ``http=``, with a header deadline of ``seconds``."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
