"""Slow clients against a real `mouthpiece serve`: headers dribbled a byte at a time get 408 and a
closed connection while other clients are served; kept-alive idle connections and slow bodies are
not cut by the header deadline."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.hostile import ServerProcess, server_process

HEADER_TIMEOUT = 1.0
DRIBBLE_EVERY = 0.2
MAX_DRIBBLES = 100  # 20 s: far past the deadline, so a server without one fails the test


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("slow") / "data", "--header-timeout", str(HEADER_TIMEOUT)) as running:
        yield running


def _connect(server: ServerProcess) -> tuple[socket.socket, str]:
    address = urlsplit(server.url)
    assert address.hostname == "127.0.0.1" and address.port
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    return sock, f"{address.hostname}:{address.port}"


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket's timeout)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_dribbled_headers_get_408_and_close_while_others_are_served(server: ServerProcess) -> None:
    sock, host = _connect(server)
    endless = f"GET /v1/health HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode() + b"a" * MAX_DRIBBLES
    answer = b""
    served_meanwhile = None
    with sock:
        for i, byte in enumerate(endless):
            try:
                sock.send(bytes([byte]))
            except OSError:
                break  # closed before we noticed the answer: read what it sent
            if i == 3:
                served_meanwhile = httpx.get(f"{server.url}/v1/health", timeout=10)
            if select.select([sock], [], [], DRIBBLE_EVERY)[0]:
                break
        answer = _read_until_closed(sock)
    assert served_meanwhile is not None and served_meanwhile.status_code == 200
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"connection: close" in answer.lower() and answer.endswith(b"did not arrive in time\n")
    assert httpx.get(f"{server.url}/v1/health", timeout=10).json()["status"] == "ok"


@pytest.mark.slow
def test_an_idle_kept_alive_connection_follows_keep_alive_not_the_header_deadline(server: ServerProcess) -> None:
    sock, host = _connect(server)
    request = f"GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with sock:
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(3 * HEADER_TIMEOUT)  # idle past the header deadline, within uvicorn's 5 s keep-alive
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
        assert _read_until_closed(sock) == b""  # keep-alive ends it silently, without a 408


def test_a_slow_body_is_not_cut_by_the_header_deadline(server: ServerProcess) -> None:
    boundary = "mp-slow"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\nnot json\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\nRIFF\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    sock, host = _connect(server)
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nConnection: close\r\n\r\n"
    ).encode()
    with sock:
        sock.sendall(head)
        sent_for = 0.0
        for start in range(0, len(body), 16):
            assert not select.select([sock], [], [], DRIBBLE_EVERY)[0], "answered before the body was sent"
            sent_for += DRIBBLE_EVERY
            sock.sendall(body[start : start + 16])
        assert sent_for > 2 * HEADER_TIMEOUT
        answer = _read_until_closed(sock)
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 4") and b"408" not in status, answer
    assert b"params" in answer
