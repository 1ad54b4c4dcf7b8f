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

    def _post_form(self, path: str, fields: dict[str, str], files: dict[str, str]) -> Any:
        """POST multipart/form-data: text ``fields`` and ``files`` (field name → path on disk)."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
            for key, value in fields.items()
        ]
        for key, path_on_disk in files.items():
            with open(path_on_disk, "rb") as fh:
                data = fh.read()
            name = os.path.basename(path_on_disk)
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{name}"\r\n'
                f"Content-Type: {kind}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self._json("POST", path, body=b"".join(parts), headers=headers)

    def submit(self, audio_path: str, params: dict) -> str:
        """Upload a clip with job params; returns the job id."""
        return self._post_form("/v1/jobs", {"params": json.dumps(params)}, {"audio": audio_path})["id"]

    def job(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def track(self, job_id: str) -> bytes:
        return self._request("GET", f"/v1/jobs/{job_id}/track", headers={"Accept": "application/x-npz"})

    def cancel(self, job_id: str) -> dict:
        return self._json("DELETE", f"/v1/jobs/{job_id}")

    def render(self, image_path: str, job_id: str, params: dict) -> str:
        """Ask for a portrait video of finished job ``job_id``'s track (with its audio); returns the render id."""
        fields = {"job": job_id, "params": json.dumps(params)}
        return self._post_form("/v1/renders", fields, {"image": image_path})["id"]

    def render_status(self, render_id: str) -> dict:
        return self._json("GET", f"/v1/renders/{render_id}")

    def video(self, render_id: str) -> bytes:
        return self._request("GET", f"/v1/renders/{render_id}/video")

    def cancel_render(self, render_id: str) -> dict:
        return self._json("DELETE", f"/v1/renders/{render_id}")


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
