"""Web pages cannot drive the loopback server: a real server refuses foreign Host (DNS rebinding) and
foreign Origin (cross-site requests, CORS preflights); clients without an Origin work as before."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.server.test_server import RunningServer, serve
from tests.support.hostile import cli, free_port, server_process

EVIL = "https://evil.example"
TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(8000, np.float32), 16000, format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serve(tmp_path_factory.mktemp("data")) as running:
        yield running


def _post_job(client: httpx.Client, wav: bytes, **headers: str) -> httpx.Response:
    return client.post("/v1/jobs", files={"audio": ("a.wav", wav)}, headers=headers)


def test_cross_site_post_is_refused_and_queues_nothing(server: RunningServer, wav: bytes) -> None:
    with server.client() as client:
        r = _post_job(client, wav, Origin=EVIL)
        assert r.status_code == 403
        assert r.json()["detail"].startswith(f"requests from web pages at {EVIL} are refused")
        assert "access-control-allow-origin" not in r.headers
        assert client.get("/v1/jobs").json() == []
        assert _post_job(client, wav, Origin="null").status_code == 403  # sandboxed frames, file:// pages


def test_rebinding_host_is_refused_on_every_endpoint(server: RunningServer, wav: bytes) -> None:
    with server.client() as client:
        job_id = _post_job(client, wav).json()["id"]
        rebound = {"Host": "rebind.evil.example"}
        for method, path in [
            ("GET", "/v1/jobs"),
            ("GET", "/v1/models"),
            ("GET", f"/v1/jobs/{job_id}/track"),
            ("DELETE", f"/v1/jobs/{job_id}"),
        ]:
            r = client.request(method, path, headers=rebound)
            assert r.status_code == 421, (method, path, r.text)
            assert "not to the host 'rebind.evil.example'" in r.json()["detail"]
            assert list(r.json()) == ["detail"]  # nothing of the endpoint's answer (models: local paths)
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] != "cancelled"
        port = server.url.rsplit(":", 1)[1]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST"):
            assert client.get("/v1/health", headers={"Host": host}).status_code == 200


def test_cors_preflight_is_refused(server: RunningServer) -> None:
    with server.client() as client:
        r = client.options(
            "/v1/jobs",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"},
        )
        assert r.status_code == 403
        assert not any(h.startswith("access-control-") for h in r.headers)


def test_clients_without_origin_and_the_servers_own_pages_work(server: RunningServer, wav: bytes) -> None:
    with server.client() as client:
        assert _post_job(client, wav).status_code == 202  # the add-on, curl, httpx: no Origin
        assert _post_job(client, wav, Origin=server.url).status_code == 202  # /docs "try it out"
        assert client.get("/v1/models", headers={"Origin": server.url}).status_code == 200


def test_token_path_is_unchanged_and_a_token_does_not_admit_a_foreign_origin(tmp_path: Path, wav: bytes) -> None:
    with serve(tmp_path / "data", token=TOKEN) as running, running.client(TOKEN) as client:
        assert _post_job(client, wav).status_code == 202
        assert _post_job(client, wav, Origin=EVIL).status_code == 403
        with running.client() as anonymous:
            assert anonymous.get("/v1/jobs").status_code == 401


def test_an_allowed_origin_gets_cors_answers(tmp_path: Path, wav: bytes) -> None:
    tool = "https://tool.example"
    settings = {"allowed_origins": (tool,), "allowed_hosts": ("studio.lan",)}
    with serve(tmp_path / "data", **settings) as running, running.client() as client:
        pre = client.options("/v1/jobs", headers={"Origin": tool, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == tool
        r = _post_job(client, wav, Origin=tool)
        assert r.status_code == 202 and r.headers["access-control-allow-origin"] == tool
        assert _post_job(client, wav, Origin=EVIL).status_code == 403
        assert client.get("/v1/health", headers={"Host": "studio.lan:8765"}).status_code == 200
        assert client.get("/v1/health", headers={"Host": "other.lan"}).status_code == 421


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        (("--host", "0.0.0.0", "--token", " " * 8), "binding 0.0.0.0 makes the server reachable from other machines"),
        (("--token", "long-enough-token "), "token: the token starts or ends with a space or tab"),
        (("--token", "\tlong-enough-token"), "token: the token starts or ends with a space or tab"),
    ],
)
@pytest.mark.slow
def test_blank_or_padded_tokens_are_refused_by_serve(args: tuple[str, ...], detail: str, tmp_path: Path) -> None:
    done = cli("serve", "--device", "cpu", "--data-dir", str(tmp_path), "--port", str(free_port()), *args)
    assert done.returncode == 2
    assert done.stderr.startswith("mouthpiece serve: error: ") and detail in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.slow
def test_an_empty_token_variable_means_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOUTHPIECE_TOKEN", "")
    with server_process(tmp_path / "data") as running, running.client() as client:
        assert client.get("/v1/health").status_code == 200
