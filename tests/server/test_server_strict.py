"""Strict params and odd bodies on a real server: every one gets a 4xx with a sentence, never a 500."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf

from tests.server.test_server import RunningServer, serve, submit


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("strict")
    checkpoint = root / "renderer_checkpoint.pt"
    checkpoint.write_bytes(b"only its presence is checked before the track is read")
    with serve(root / "data", renderer_checkpoint=checkpoint) as running:
        yield running


@pytest.fixture(scope="module")
def wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(8000, np.float32), 16000, format="WAV")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ('{"seed": "42"}', "seed: Input should be a valid integer"),
        ('{"seed": 42.5}', "seed: Input should be a valid integer"),
        ('{"head_motion": "yes"}', 'head_motion: must be true, false or "sadtalker", not "yes"'),
        ('{"blinks": "no"}', "blinks: Input should be a valid boolean"),
        ('{"intensity": NaN}', "intensity: Input should be a finite number"),
        ('{"fps": Infinity}', "fps: Input should be a finite number"),
        ('{"emotion_keys": [[NaN, "happy", 0.5]]}', "emotion_keys.0.0: Input should be a finite number"),
        ('{"emotion_keys": [[1e308, "happy", 0.5]]}', "time must be ≥ 0 (at most 86400 s)"),
        ('{"emotion_keys": [[1, "happy", -Infinity]]}', "emotion_keys.0.2: Input should be a finite number"),
        ("[" * 100_000 + "]" * 100_000, "params is not valid JSON (nested too deeply)"),
        ('{"seed": ' + "9" * 5000 + "}", "params is not valid JSON (a number in it has thousands of digits)"),
    ],
    ids=lambda v: v[:24],
)
def test_loose_or_hostile_params_are_refused(server: RunningServer, wav: bytes, params: str, detail: str) -> None:
    with server.client() as client:
        r = submit(client, wav, params)
        assert r.status_code == 400, r.text
        assert detail in r.json()["detail"]
        assert client.get("/v1/jobs").json() == []


def test_strict_params_still_take_json_numbers(server: RunningServer, wav: bytes) -> None:
    params = {"seed": 7, "intensity": 1, "fps": 30, "emotion_keys": [[0, "happy", 1]], "head_motion": False}
    with server.client() as client:
        r = submit(client, wav, params)
        assert r.status_code == 202, r.text
        client.delete(f"/v1/jobs/{r.json()['id']}")


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95])
def test_a_truncated_track_upload_is_a_400(server: RunningServer, cut: float) -> None:
    from tests.support.hostile import npz_track_declaring

    whole = npz_track_declaring(90)
    files = {"image": ("p.png", b"\x89PNG"), "track": ("take.npz", whole[: int(len(whole) * cut)])}
    with server.client() as client:
        r = client.post("/v1/renders", files=files)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("take.npz: not a track .npz file")


def test_deeply_nested_track_json_is_a_400(server: RunningServer) -> None:
    files = {"image": ("p.png", b"\x89PNG"), "track": ("take.json", b"[" * 100_000 + b"]" * 100_000)}
    with server.client() as client:
        r = client.post("/v1/renders", files=files)
        assert r.status_code == 400
        assert "nested too deeply" in r.json()["detail"]
        assert isinstance(json.loads(r.text), dict)


def test_a_job_track_as_json_is_valid_json(server: RunningServer, wav: bytes) -> None:
    with server.client() as client:
        job_id = submit(client, wav, {"emotion_keys": [[0, "happy", 1], [0.3, "sad", 0.5]]}).json()["id"]
        client.get(f"/v1/jobs/{job_id}", params={"wait": 60})
        r = client.get(f"/v1/jobs/{job_id}/track", params={"format": "json"})
        assert r.status_code == 200
        json.loads(r.text, parse_constant=lambda c: pytest.fail(f"the track JSON holds {c}"))
