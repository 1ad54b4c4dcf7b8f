"""Who may drive the server from a browser: nobody but the server's own pages, unless configured.

A web page can send requests to 127.0.0.1 (the browser attaches its ``Origin``), and a DNS-rebinding
page can even read the answers (its requests carry the attacker's ``Host``). So a request whose
``Host`` is not an address this server answers to gets 421, and one whose ``Origin`` is neither the
server itself nor an allowed origin gets 403; CORS preflights are refused the same way. Clients that
are not browsers (the add-on, curl, httpx) send no ``Origin`` and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "ip6-localhost"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def host_name(host: str) -> str:
    """The name in a ``Host`` header or an origin's authority, without port or IPv6 brackets, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class OriginGuardMiddleware:
    """421 for a foreign ``Host``, 403 for a foreign ``Origin`` (preflights included)."""

    def __init__(self, app: ASGIApp, bind_host: str, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]):
        self.app = app
        bound = host_name(bind_host)
        self.any_host = bound in WILDCARD_HOSTS  # bound to every interface: a token guards it (settings.check)
        self.hosts = LOCAL_HOSTS | {bound} | {host_name(h) for h in allowed_hosts}
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/").lower()
        if not self.any_host and host_name(host) not in self.hosts:
            await _refuse(
                scope,
                receive,
                send,
                421,
                f"this server answers to 127.0.0.1 and localhost, not to the host '{host}'; "
                "start it with --allow-host NAME to use another name",
            )
            return
        if origin and origin not in self.origins and urlsplit(origin).netloc != host.lower():
            await _refuse(
                scope,
                receive,
                send,
                403,
                f"requests from web pages at {origin} are refused; "
                "start the server with --allow-origin ORIGIN to let a page use it",
            )
            return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
