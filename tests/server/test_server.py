"""The inference server end to end: a real uvicorn server on a random 127.0.0.1 port, real audio,
the real builtin engine, an httpx client."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
import uvicorn

from core.audio import SAMPLE_RATE, load_audio
from core.errors import InputError
from core.track import Track
from server.app import create_app
from server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello.wav"
FINISHED = {"done", "failed", "cancelled"}


@dataclass
class RunningServer:
    url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "server did not stop"


@contextmanager
def serve(data_dir: Path, **overrides: Any) -> Iterator[RunningServer]:
    """Run the app under uvicorn in a thread on a free 127.0.0.1 port."""
    settings = Settings(data_dir=data_dir, device="cpu", **overrides)
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    running = RunningServer(f"http://127.0.0.1:{port}", settings, server, thread)
    try:
        yield running
    finally:
        if thread.is_alive():
            running.stop()
        sock.close()


# ---- audio -----------------------------------------------------------------------------------
def wav_bytes(samples: np.ndarray, rate: int = SAMPLE_RATE, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype="PCM_16" if fmt in ("WAV", "FLAC") else None)
    return buf.getvalue()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """8.7 s of real speech (examples/hello.wav), 16 kHz mono."""
    return load_audio(HELLO)


@pytest.fixture(scope="module")
def short_wav(speech: np.ndarray) -> bytes:
    """The first 2 s of the speech ("Hello! My name is...")."""
    return wav_bytes(speech[: 2 * SAMPLE_RATE])


@pytest.fixture(scope="module")
def long_wav(speech: np.ndarray) -> bytes:
    """19 s of speech (the clip twice with pauses): long enough to catch a job running."""
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    return wav_bytes(np.concatenate([speech, pause] * 2))


# ---- client helpers --------------------------------------------------------------------------
def submit(client: httpx.Client, audio: bytes, params: dict | str | None = None, name: str = "clip.wav"):
    body = params if isinstance(params, str) else json.dumps(params or {})
    return client.post("/v1/jobs", files={"audio": (name, audio)}, data={"params": body})


def wait_for(client: httpx.Client, job_id: str, states: set[str], timeout: float = 60) -> dict:
    """Poll a job until it is in one of ``states``; returns its last status."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        assert time.monotonic() < deadline, f"job stuck: {status}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty models folder (``MOUTHPIECE_MODELS``, inherited by the engine process): no weights, no rigs."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOUTHPIECE_MODELS", str(folder))
        yield folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models: Path) -> Iterator[RunningServer]:
    """The shared server: small limits so the bad-input tests stay cheap; an empty models folder."""
    with serve(tmp_path_factory.mktemp("data"), max_upload_mb=2, max_audio_seconds=45, max_transcript_chars=200) as s:
        yield s


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


# ---- health and models -----------------------------------------------------------------------
def test_health_reports_version_device_engines_and_queue(client: httpx.Client) -> None:
    health = client.get("/v1/health").json()
    assert health["status"] == "ok"
    assert health["device"] == "cpu"
    assert health["version"]
    assert health["queue_depth"] == 0
    assert health["limits"]["max_audio_seconds"] == 45


def missing_weights(models: Path) -> dict[str, str]:
    """What the server says for each model file absent from an empty models folder."""
    official = "from the official StyleTalk release"
    return {
        "emote": "EMOTE weights missing: put EMOTE_v2 (the release folder, holding cfg.yaml and "
        f"checkpoints/last.ckpt) at {models / 'emote' / 'EMOTE_v2'}",
        "styletalk": f"StyleTalk weights missing: put styletalk_checkpoint.pth ({official}) "
        f"at {models / 'styletalk' / 'styletalk_checkpoint.pth'}",
        "sadtalker": "SadTalker weights missing: put SadTalker_V0.0.2_256.safetensors (the official release's "
        f"checkpoints/) at {models / 'sadtalker' / 'SadTalker_V0.0.2_256.safetensors'}",
        "renderer": f"renderer weights missing: put renderer_checkpoint.pt ({official}) "
        f"at {models / 'styletalk' / 'renderer_checkpoint.pt'}",
    }


def test_models_report_says_where_each_missing_file_goes(client: httpx.Client, models: Path) -> None:
    report = client.get("/v1/models").json()
    engines = {e["name"]: e for e in report["engines"]}
    assert set(engines) == {"builtin", "emote", "styletalk", "sadtalker"}
    builtin = engines["builtin"]
    assert builtin["installed"] and builtin["ready"]
    assert builtin["rig"] == "arkit" and builtin["native_fps"] > 0
    assert "happy" in builtin["options"]["emotions"]
    expected = missing_weights(models)
    for name in ("emote", "styletalk", "sadtalker"):
        assert (engines[name]["installed"], engines[name]["ready"]) == (True, False), name
        assert engines[name]["message"] == expected[name]
    assert report["renderer"] == {
        "name": "pirender",
        "rig": "bfm",
        "ready": False,
        "message": expected["renderer"],
        "checkpoint": str(models / "styletalk" / "renderer_checkpoint.pt"),
        "image_size": 256,
    }
    assert report["head_motion"] == {
        "name": "sadtalker",
        "pose_styles": 46,
        "ready": False,
        "message": expected["sadtalker"],
    }


# ---- the happy path --------------------------------------------------------------------------
def test_job_end_to_end_npz_and_json_agree(
    client: httpx.Client, short_wav: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mouthpiece.server")
    params = {"emotion": "happy", "intensity": 0.8, "seed": 3, "fps": 30, "transcript": "Hello! My name is"}
    r = submit(client, short_wav, params)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.headers["location"] == f"/v1/jobs/{job_id}"
    progress = []
    deadline = time.monotonic() + 60
    while (status := client.get(f"/v1/jobs/{job_id}").json())["state"] not in FINISHED:
        progress.append(status["progress"])
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status["state"] == "done", status
    assert status["progress"] == 1.0
    assert progress == sorted(progress) and all(0 <= p < 1 for p in progress)
    assert status["audio_seconds"] == pytest.approx(2.0)

    npz = client.get(f"/v1/jobs/{job_id}/track")
    assert npz.status_code == 200 and npz.headers["content-type"] == "application/x-npz"
    via_json = client.get(f"/v1/jobs/{job_id}/track", headers={"Accept": "application/json"})
    assert via_json.headers["content-type"] == "application/json"
    a, b = Track.from_npz(npz.content), Track.from_json(via_json.content)
    assert a.rig == b.rig == "arkit" and a.fps == b.fps == 30.0
    assert a.channels == b.channels and len(a.channels) == 52
    np.testing.assert_array_equal(a.values, b.values)
    assert a.rotations.keys() == b.rotations.keys()
    for name in a.rotations:
        np.testing.assert_array_equal(a.rotations[name], b.rotations[name])
    assert a.meta == b.meta and a.meta["emotion"] == "happy"
    assert a.num_frames == pytest.approx(60, abs=1)
    assert a.values.max() > 0.1, "speech should move the face"
    lines = [r.getMessage() for r in caplog.records if job_id in r.getMessage()]
    assert len(lines) == 1 and "engine=builtin audio=2.00s took=" in lines[0] and "state=done" in lines[0]

    assert client.get("/v1/health").json()["engines_loaded"] == ["builtin"]
    listed = client.get("/v1/jobs").json()
    assert job_id in [j["id"] for j in listed]
    assert client.delete(f"/v1/jobs/{job_id}", params={"remove": True}).status_code == 204
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404


def test_loudness_absolute_opens_a_shout_wider_and_clip_does_not(client: httpx.Client, speech: np.ndarray) -> None:
    jaw = {}
    for gain in (1.0, 0.1):  # the same line 20 dB quieter
        audio = wav_bytes(speech[: round(2.4 * SAMPLE_RATE)] * gain)  # "Hello! My name is Mouthpiece."
        for mode in ("absolute", "clip"):
            params = {"transcript": "Hello! My name is Mouthpiece.", "head_motion": False, "loudness": mode}
            r = submit(client, audio, params)
            assert r.status_code == 202, r.text
            assert wait_for(client, r.json()["id"], FINISHED)["state"] == "done"
            track = Track.from_npz(client.get(f"/v1/jobs/{r.json()['id']}/track").content)
            jaw[gain, mode] = track.channel("jawOpen").max()
    assert jaw[0.1, "absolute"] < 0.85 * jaw[1.0, "absolute"]
    assert jaw[0.1, "clip"] == pytest.approx(jaw[1.0, "clip"], rel=0.05)


def ffmpeg_encode(wav: bytes, suffix: str, tmp_path: Path) -> bytes:
    """Encode with the ffmpeg that imageio-ffmpeg ships (MP3/M4A test clips)."""
    import imageio_ffmpeg

    src, dst = tmp_path / "in.wav", tmp_path / f"out{suffix}"
    src.write_bytes(wav)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), str(dst)]
    subprocess.run(cmd, check=True, capture_output=True)
    return dst.read_bytes()


@pytest.mark.parametrize("name", ["clip.flac", "clip.ogg", "clip.mp3", "clip.m4a"])
def test_other_audio_formats_are_accepted(client: httpx.Client, speech: np.ndarray, name: str, tmp_path: Path) -> None:
    one_second = speech[:SAMPLE_RATE]
    suffix = Path(name).suffix
    if suffix in (".flac", ".ogg"):
        data = wav_bytes(one_second, fmt=suffix[1:].upper())
    else:
        data = ffmpeg_encode(wav_bytes(one_second), suffix, tmp_path)
    r = submit(client, data, name=name)
    assert r.status_code == 202, r.text
    status = client.get(f"/v1/jobs/{r.json()['id']}").json()
    assert status["audio_seconds"] == pytest.approx(1.0, abs=0.06)  # MP3/AAC pad a few ms
    client.delete(f"/v1/jobs/{r.json()['id']}")
    assert wait_for(client, r.json()["id"], FINISHED)["state"] in ("done", "cancelled")


def test_a_held_job_lock_does_not_stall_the_event_loop(
    server: RunningServer, client: httpx.Client, short_wav: bytes
) -> None:
    """A worker holds the job store's lock while it writes: a status request waits for it off the event
    loop, and requests that need no lock are answered meanwhile."""
    job_id = submit(client, short_wav).json()["id"]
    assert wait_for(client, job_id, FINISHED)["state"] == "done"
    manager = server.server.config.app.state.manager
    with ThreadPoolExecutor(1) as pool, server.client() as poller:
        with manager._lock:  # what a worker thread holds while it writes a job's files
            status = pool.submit(poller.get, f"/v1/jobs/{job_id}", params={"wait": 5})
            time.sleep(0.5)  # the status request reaches the lock and waits there
            track = client.get(f"/v1/jobs/{job_id}/track", timeout=10)
            assert track.status_code == 200 and Track.from_npz(track.content).num_frames > 0
            assert not status.done(), "the status request did not wait for the lock"
        assert status.result(timeout=10).json()["state"] == "done"


# ---- cancel and the queue bound --------------------------------------------------------------
def test_cancel_stops_a_running_job(client: httpx.Client, long_wav: bytes) -> None:
    job_id = submit(client, long_wav).json()["id"]
    wait_for(client, job_id, {"running"} | FINISHED)
    for _ in range(3):  # the engine runs in its own process: the server answers while it computes
        t0 = time.monotonic()
        assert client.get("/v1/health").json()["running"] == 1
        assert time.monotonic() - t0 < 2.0
        time.sleep(0.05)
    t0 = time.monotonic()
    assert client.get(f"/v1/jobs/{job_id}", params={"wait": 0.3}).json()["state"] == "running"
    assert time.monotonic() - t0 >= 0.3, "?wait= holds the answer until the job finishes or time is up"
    r = client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["state"] in ("running", "cancelled")
    status = client.get(f"/v1/jobs/{job_id}", params={"wait": 20}).json()
    assert status["state"] == "cancelled", status
    assert time.monotonic() - t0 < 15
    r = client.get(f"/v1/jobs/{job_id}/track")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    assert client.get("/v1/health").json()["running"] == 0


def test_full_queue_answers_429_with_retry_after(tmp_path: Path, long_wav: bytes, short_wav: bytes) -> None:
    with serve(tmp_path, max_queue=1) as srv, srv.client() as c:
        running = submit(c, long_wav).json()["id"]
        wait_for(c, running, {"running"})
        queued = submit(c, short_wav)
        assert queued.status_code == 202
        assert c.get(f"/v1/jobs/{queued.json()['id']}").json()["queue_position"] == 0
        assert c.get("/v1/health").json()["queue_depth"] == 1
        full = submit(c, short_wav)
        assert full.status_code == 429
        assert int(full.headers["retry-after"]) >= 1
        assert "queue is full" in full.json()["detail"]
        cancelled = c.delete(f"/v1/jobs/{queued.json()['id']}").json()
        assert cancelled["state"] == "cancelled"
        assert submit(c, short_wav).status_code == 202, "a freed slot takes a new job"
        c.delete(f"/v1/jobs/{running}")
        assert wait_for(c, running, FINISHED)["state"] == "cancelled"


@pytest.mark.slow
def test_twenty_concurrent_jobs_all_finish(tmp_path: Path, speech: np.ndarray) -> None:
    clip = wav_bytes(speech[: SAMPLE_RATE // 3])
    ids: list[str] = []
    rejected = 0
    lock = threading.Lock()

    def client_loop(srv: RunningServer, count: int) -> None:
        nonlocal rejected
        with srv.client() as c:
            for _ in range(count):
                while (r := submit(c, clip)).status_code == 429:
                    with lock:
                        rejected += 1
                    time.sleep(0.1)
                assert r.status_code == 202, r.text
                with lock:
                    ids.append(r.json()["id"])

    with serve(tmp_path, max_queue=4) as srv:
        threads = [threading.Thread(target=client_loop, args=(srv, 5)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        with srv.client() as c:
            states = [wait_for(c, i, FINISHED)["state"] for i in ids]
    assert len(set(ids)) == 20
    assert states == ["done"] * 20
    assert rejected > 0, "a queue of 4 under 4 eager clients should have pushed back"


# ---- persistence -----------------------------------------------------------------------------
@pytest.mark.slow
def test_restart_keeps_finished_track_and_requeues_interrupted_job(
    tmp_path: Path, short_wav: bytes, long_wav: bytes
) -> None:
    with serve(tmp_path) as first, first.client() as c:
        done = submit(c, short_wav, {"seed": 7}).json()["id"]
        assert wait_for(c, done, FINISHED)["state"] == "done"
        before = c.get(f"/v1/jobs/{done}/track").content
        interrupted = submit(c, long_wav).json()["id"]
        wait_for(c, interrupted, {"running"})
        first.stop()
    record = json.loads((tmp_path / "jobs" / interrupted / "job.json").read_text())
    assert record["state"] == "queued" and "restart" in record["message"]

    with serve(tmp_path) as second, second.client() as c:
        assert c.get(f"/v1/jobs/{done}").json()["state"] == "done"
        assert c.get(f"/v1/jobs/{done}/track").content == before
        status = c.get(f"/v1/jobs/{interrupted}").json()
        assert status["state"] in ("queued", "running")
        c.delete(f"/v1/jobs/{interrupted}")
        assert wait_for(c, interrupted, FINISHED)["state"] == "cancelled"


# ---- access ----------------------------------------------------------------------------------
def test_token_is_required_on_every_request(tmp_path: Path, short_wav: bytes) -> None:
    token = "s3cret-token"
    with serve(tmp_path, token=token) as srv:
        with srv.client() as anonymous:
            r = anonymous.get("/v1/health")
            assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
            assert r.headers["www-authenticate"] == "Bearer"
            assert submit(anonymous, short_wav).status_code == 401
            assert anonymous.get("/openapi.json").status_code == 401
        with srv.client(token="wrong-token") as wrong:
            r = wrong.get("/v1/models")
            assert r.status_code == 401 and "does not match" in r.json()["detail"]
        with srv.client(token=token) as ok:
            assert ok.get("/v1/health").status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_public_bind_refuses_to_start_without_token(tmp_path: Path, host: str) -> None:
    with pytest.raises(InputError, match="--token"):
        create_app(Settings(host=host, data_dir=tmp_path, device="cpu"))
    create_app(Settings(host=host, data_dir=tmp_path, device="cpu", token="long-enough-token"))


def test_serve_command_refuses_public_bind_without_token(tmp_path: Path) -> None:
    from cli.commands import serve as serve_cmd

    parser = __import__("argparse").ArgumentParser()
    serve_cmd.add_arguments(parser)
    args = parser.parse_args(["--host", "0.0.0.0", "--data-dir", str(tmp_path), "--device", "cpu"])
    with pytest.raises(InputError, match="reachable from other machines"):
        serve_cmd.run(args)


# ---- bad input -------------------------------------------------------------------------------
def _truncated(wav: bytes) -> bytes:
    return wav[: len(wav) // 3]


BAD_PARAMS = [
    ({"engine": "warp-drive"}, 400, "unknown engine 'warp-drive'"),
    ({"emotion": "ecstatic"}, 400, "unknown emotion 'ecstatic'"),
    ({"style": "gangnam"}, 400, "no style 'gangnam'"),
    ({"style": "../../etc/passwd"}, 400, "not a valid name"),
    ({"identity": "../secret"}, 400, "not a valid name"),
    ({"intensity": 1.5}, 400, "intensity: Input should be less than or equal to 1"),
    ({"intensity": -0.1}, 400, "intensity"),
    ({"fps": 0}, 400, "fps"),
    ({"seed": "abc"}, 400, "seed"),
    ({"emotion_keys": [[0.0, "happy", 2.0]]}, 400, "intensity 0..1"),
    ({"speed": 2}, 400, "speed: unknown parameter"),
    ({"transcript": "la " * 100}, 400, "the limit is 200"),
    ({"loudness": "loud"}, 400, "loudness: Input should be 'absolute' or 'clip'"),
    ({"loudness": True}, 400, "loudness: Input should be 'absolute' or 'clip'"),
    ("{engine: builtin", 400, "params is not valid JSON"),
    ("[1, 2]", 400, "params must be a JSON object"),
]


@pytest.mark.parametrize("params,status,detail", BAD_PARAMS, ids=[str(p)[:30] for p, _, _ in BAD_PARAMS])
def test_bad_params_get_4xx_and_server_keeps_serving(
    client: httpx.Client, short_wav: bytes, params: dict | str, status: int, detail: str
) -> None:
    r = submit(client, short_wav, params)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert client.get("/v1/health").status_code == 200


def test_engine_without_weights_is_refused_saying_where_they_go(
    client: httpx.Client, short_wav: bytes, models: Path
) -> None:
    expected = missing_weights(models)
    for name in ("emote", "styletalk", "sadtalker"):
        r = submit(client, short_wav, {"engine": name})
        assert (r.status_code, r.json()["detail"]) == (409, expected[name])
    r = submit(client, short_wav, {"head_motion": "sadtalker"})
    assert (r.status_code, r.json()["detail"]) == (409, expected["sadtalker"])
    assert client.get("/v1/health").status_code == 200


@pytest.mark.parametrize(
    "make,name,status,detail",
    [
        (lambda wav, speech: b"this is not audio at all\n" * 40, "notes.txt", 415, "not a readable audio file"),
        (lambda wav, speech: b"\xff\xfb\x90\x00" + bytes(500), "fake.mp3", 415, "not a readable audio file"),
        (lambda wav, speech: b"", "empty.wav", 400, "empty"),
        (lambda wav, speech: _truncated(wav), "cut.wav", 400, "truncated"),
        (lambda wav, speech: wav[:40], "header.wav", 400, "without audio data"),
        (
            lambda wav, speech: wav_bytes(np.zeros(46 * 4000, np.float32), rate=4000),
            "long.wav",
            400,
            "is 46.0 s long; the limit is 45 s",
        ),
        (
            lambda wav, speech: wav_bytes(np.tile(speech, 12)[: 34 * 48_000] * 0.5, rate=48_000),
            "big.wav",
            413,
            "larger than the server's limit of 2 MB",
        ),
    ],
    ids=["text", "fake-mp3", "empty", "truncated", "header-only", "over-duration", "over-size"],
)
def test_bad_audio_gets_4xx_and_server_keeps_serving(
    client: httpx.Client, short_wav: bytes, speech: np.ndarray, make, name: str, status: int, detail: str
) -> None:
    r = submit(client, make(short_wav, speech), name=name)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert client.get("/v1/health").status_code == 200


def test_chunked_upload_over_the_limit_is_cut_off(client: httpx.Client) -> None:
    """Without a Content-Length the server counts the body as it arrives and stops at the cap."""

    def body() -> Iterator[bytes]:
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
        for _ in range(128):
            yield bytes(64 * 1024)
        yield b"\r\n--xyz--\r\n"

    try:
        r = client.post("/v1/jobs", content=body(), headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    except httpx.TransportError:
        pass  # the server may close the connection before the client finishes sending
    else:
        assert r.status_code == 413 and "limit of 2 MB" in r.json()["detail"]
    assert client.get("/v1/health").status_code == 200


def test_missing_audio_field_and_unknown_ids(client: httpx.Client) -> None:
    r = client.post("/v1/jobs", data={"params": "{}"})
    assert r.status_code == 422 and "audio: this field is required" in r.json()["detail"]
    r = client.get("/v1/jobs/0123456789abcdef")
    assert r.status_code == 404 and "no job '0123456789abcdef'" in r.json()["detail"]
    assert client.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd/track").status_code == 404
    assert client.delete("/v1/jobs/nope").status_code == 404
    r = client.get("/v1/rigs/..%2Fjobs")
    assert r.status_code == 404 and "no endpoint GET /v1/rigs/../jobs" in r.json()["detail"]
    r = client.get("/v1/rigs/smurf")
    assert r.status_code == 404 and "unknown rig 'smurf'" in r.json()["detail"]
    assert client.get("/v1/health").status_code == 200


def test_rig_endpoint_serves_the_rig_npz_or_says_where_the_asset_goes(client: httpx.Client, models: Path) -> None:
    r = client.get("/v1/rigs/arkit")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npz"
    with np.load(io.BytesIO(r.content), allow_pickle=False) as z:
        assert {"vertices", "faces", "channels", "basis", "landmark_names", "landmark_indices"} <= set(z.files)
        assert z["basis"].shape == (52, *z["vertices"].shape)
    for licensed, file in (("flame", "flame.npz"), ("bfm", "BFM/BFM_model_front.mat")):
        r = client.get(f"/v1/rigs/{licensed}")
        assert r.status_code == 404 and str(models / file) in r.json()["detail"]
