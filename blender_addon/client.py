"""A small urllib client for the Mouthpiece server's HTTP API (DESIGN §5). No bpy here: it runs
on the Generate operator's worker thread."""

from __future__ import annotations

import json
import mimetypes
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A failed request; the message is the server's own when it sent one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url: str, token: str = "", timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise ServerError(_detail(exc), exc.code) from None
        except urllib.error.URLError as exc:
            raise ServerError(
                f"cannot reach the Mouthpiece server at {self.url} ({exc.reason}); start it with "
                "'mouthpiece serve' or the Start Local Server button"
            ) from None
        except (TimeoutError, OSError) as exc:
            raise ServerError(f"the Mouthpiece server at {self.url} did not answer ({exc})") from None

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        data = self._request(method, path, **kw)
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise ServerError(f"{self.url}{path} did not answer with JSON; is this a Mouthpiece server?") from None

    def health(self) -> dict:
        return self._json("GET", "/v1/health")

    def models(self) -> list[dict]:
        return self._json("GET", "/v1/models")["engines"]

    def rig(self, name: str) -> bytes:
        return self._request("GET", f"/v1/rigs/{urllib.parse.quote(name)}")

    def submit(self, audio_path: str, params: dict) -> str:
        """Upload a clip with job params; returns the job id."""
        with open(audio_path, "rb") as fh:
            audio = fh.read()
        boundary = uuid.uuid4().hex
        name = os.path.basename(audio_path)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n'.encode()
            + json.dumps(params).encode()
            + b"\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="{name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n".encode()
            + audio
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self._json("POST", "/v1/jobs", body=b"".join(parts), headers=headers)["id"]

    def job(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def track(self, job_id: str) -> bytes:
        return self._request("GET", f"/v1/jobs/{job_id}/track", headers={"Accept": "application/x-npz"})

    def cancel(self, job_id: str) -> dict:
        return self._json("DELETE", f"/v1/jobs/{job_id}")


def _detail(exc: urllib.error.HTTPError) -> str:
    """The server's ``detail`` message, or the HTTP status in words."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    if exc.code == 401:
        return "the server wants a token: set it in the Mouthpiece add-on preferences"
    return f"the server answered {exc.code} {exc.reason}"
