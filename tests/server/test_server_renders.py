"""Neural renders (POST /v1/renders) and SadTalker head motion in job params, against a real server.

The renderer is the reference fixture's small PIRenderer (64², random weights); SadTalker's nets are
random small weights in the official key layout (tests/core/sadtalker_layout.py).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from core.adapters.styletalk_npy import styletalk_coeffs_to_track
from core.audio import SAMPLE_RATE, decode_audio, load_audio
from core.engines.sadtalker.headmotion import add_head_motion
from core.testing.signals import speech_like
from core.track import Track
from tests.core.sadtalker_layout import write_weights
from tests.server.test_server import FINISHED, HELLO, RunningServer, serve, submit, wait_for, wav_bytes

PORTRAIT = "KristiNoem.png"


def fixture_track(reference_dir: Path) -> Track:
    """The renderer fixture's 20 frames of 73 coefficients as a bfm track at 30 fps (crop as channels)."""
    with np.load(reference_dir / "pirender_small_io.npz") as z:
        return styletalk_coeffs_to_track(z["coeff_seq"], {"engine": "styletalk"})


def still_bfm_track(frames: int) -> Track:
    return Track(fps=30.0, rig="bfm", channels=[f"exp{i:02d}" for i in range(64)], values=np.zeros((frames, 64)))


def png(pixels: np.ndarray, fmt: str = "rgb24") -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as c:
        stream = c.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = pixels.shape[1], pixels.shape[0], fmt
        c.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format=fmt)))
        c.mux(stream.encode(None))
    return buf.getvalue()


def render(
    client: httpx.Client,
    image: bytes,
    *,
    track: Track | bytes | None = None,
    job: str | None = None,
    audio: bytes | None = None,
    params: dict | None = None,
) -> httpx.Response:
    files: dict = {"image": ("portrait.png", image)}
    if track is not None:
        files["track"] = ("take.npz", track if isinstance(track, bytes) else track.to_npz_bytes())
    if audio is not None:
        files["audio"] = ("speech.wav", audio)
    data = {"params": json.dumps(params or {})}
    if job is not None:
        data["job"] = job
    return client.post("/v1/renders", files=files, data=data)


def video_facts(data: bytes) -> tuple[int, list[str], tuple[int, int], float]:
    """(video frames, stream kinds, frame size, seconds of audio)."""
    with av.open(io.BytesIO(data)) as c:
        kinds = sorted(s.type for s in c.streams)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(io.BytesIO(data)) as c:
        samples = sum(f.samples for f in c.decode(audio=0)) if "audio" in kinds else 0
    return len(frames), kinds, frames[0].shape[:2], samples / SAMPLE_RATE


@pytest.fixture(scope="module")
def portrait(samples_dir: Path) -> bytes:
    return (samples_dir / "source_video" / "image" / PORTRAIT).read_bytes()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding SadTalker weights (random, small) for the sadtalker engine."""
    root = tmp_path_factory.mktemp("models")
    (root / "sadtalker").mkdir()
    write_weights(root / "sadtalker" / "SadTalker_V0.0.2_256.safetensors", seed=3)
    return root


@pytest.fixture(scope="module")
def posevae(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Head-motion weights at a path of their own, given to the server by its setting."""
    return write_weights(tmp_path_factory.mktemp("posevae") / "posevae.safetensors", seed=11, exp=False)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, reference_dir: Path, models: Path, posevae: Path
) -> Iterator[RunningServer]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOUTHPIECE_MODELS", str(models))  # the engine process inherits it
        with serve(
            tmp_path_factory.mktemp("data"),
            renderer_checkpoint=reference_dir / "pirender_small.pt",
            renderer_config=reference_dir / "pirender_small_config.json",
            sadtalker_weights=posevae,
            max_audio_seconds=30,
        ) as srv:
            yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_models_list_the_renderer_and_head_motion(client: httpx.Client, reference_dir: Path, posevae: Path) -> None:
    report = client.get("/v1/models").json()
    assert report["renderer"] == {
        "name": "pirender",
        "ready": True,
        "message": f"weights: {reference_dir / 'pirender_small.pt'}",
        "checkpoint": str(reference_dir / "pirender_small.pt"),
        "image_size": 64,
        "rig": "bfm",
    }
    assert report["head_motion"]["ready"] and report["head_motion"]["pose_styles"] == 46
    assert str(posevae) in report["head_motion"]["message"]


@pytest.mark.slow
def test_render_a_track_file_end_to_end(client: httpx.Client, reference_dir: Path, portrait: bytes) -> None:
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = wav_bytes((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    r = render(client, portrait, track=fixture_track(reference_dir), audio=tone, params={"fps": 30, "batch": 8})
    assert r.status_code == 202, r.text
    render_id = r.json()["id"]
    assert r.headers["location"] == f"/v1/renders/{render_id}"
    progress = []
    deadline = time.monotonic() + 120
    while (status := client.get(f"/v1/renders/{render_id}").json())["state"] not in FINISHED:
        progress.append(status["progress"])
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert status["kind"] == "render" and status["engine"] == "renderer"
    assert status["message"] == "done: 20 frames at 30 fps, cpu, batch 8"
    assert progress == sorted(progress)
    assert client.get(f"/v1/jobs/{render_id}").json()["state"] == "done", "a render is a job too"

    video = client.get(f"/v1/renders/{render_id}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    frames, kinds, size, seconds = video_facts(video.content)
    assert (frames, kinds, size) == (20, ["audio", "video"], (64, 64))
    assert 0.62 <= seconds < 0.74  # the 0.8 s tone is cut at the video's 0.67 s end
    r = client.get(f"/v1/jobs/{render_id}/track")
    assert r.status_code == 409 and "is a render" in r.json()["detail"]
    assert "renderer" in client.get("/v1/health").json()["engines_loaded"]


def test_render_a_finished_jobs_track_with_its_audio(client: httpx.Client, portrait: bytes) -> None:
    speech = speech_like(1.4, seed=4)
    job = submit(client, wav_bytes(speech), {"engine": "sadtalker", "pose_style": 3, "seed": 2})
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    assert wait_for(client, job_id, FINISHED)["state"] == "done"
    take = Track.from_npz(client.get(f"/v1/jobs/{job_id}/track").content)
    assert (take.rig, take.fps, take.meta["pose_style"]) == ("bfm", 25.0, 3)

    r = render(client, portrait, job=job_id, params={"fps": 10})
    assert r.status_code == 202, r.text
    render_id = r.json()["id"]
    status = client.get(f"/v1/renders/{render_id}", params={"wait": 60}).json()
    assert status["state"] == "done", status
    frames, kinds, size, seconds = video_facts(client.get(f"/v1/renders/{render_id}/video").content)
    assert frames == int((take.num_frames - 1) / 25 * 10) + 1
    assert kinds == ["audio", "video"] and size == (64, 64)
    assert seconds == pytest.approx(frames / 10, abs=0.07), "the job's own audio is muxed in"

    r = client.get(f"/v1/renders/{job_id}")
    assert r.status_code == 404 and "it is an animation job" in r.json()["detail"]


def test_cancel_a_running_render(server: RunningServer, client: httpx.Client, portrait: bytes) -> None:
    r = render(client, portrait, track=still_bfm_track(600), params={"batch": 1})
    assert r.status_code == 202, r.text
    render_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while (status := client.get(f"/v1/renders/{render_id}").json())["progress"] <= 0:
        assert status["state"] in ("queued", "running") and time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["state"] == "running" and status["message"].startswith("rendered ")
    assert client.delete(f"/v1/renders/{render_id}").status_code == 200
    status = client.get(f"/v1/renders/{render_id}", params={"wait": 20}).json()
    assert status["state"] == "cancelled", status
    r = client.get(f"/v1/renders/{render_id}/video")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    folder = server.settings.data_dir / "jobs" / render_id
    assert sorted(p.name for p in folder.iterdir()) == ["input.npz", "job.json"], "no video, no partial file"


def test_bad_render_requests_get_4xx(
    client: httpx.Client, server: RunningServer, reference_dir: Path, portrait: bytes, tmp_path: Path
) -> None:
    track = fixture_track(reference_dir)
    flame = Track(fps=25.0, rig="flame", channels=["exp000"], values=np.zeros((5, 1)), meta={"engine": "emote"})
    builtin_job = submit(client, wav_bytes(load_audio(HELLO)[:SAMPLE_RATE]), {"seed": 1}).json()["id"]
    assert wait_for(client, builtin_job, FINISHED)["state"] == "done"
    grey = png(np.full((64, 64), 90, np.uint8), "gray")
    cases = [
        (
            dict(track=flame),
            portrait,
            400,
            "only bfm tracks drive the portrait renderer; this track is for the 'flame'",
        ),
        (dict(job=builtin_job), portrait, 400, "only bfm tracks drive the portrait renderer"),
        (dict(track=track), b"\x89PNG but not really", 415, "portrait.png: cannot read the image"),
        (dict(track=track), png(np.zeros((20, 40, 3), np.uint8)), 400, "is 40×20; it needs at least 32 px"),
        (dict(track=track), grey, 400, "greyscale; the renderer needs a colour (RGB) image"),
        (dict(track=track), b"", 400, "portrait.png is empty"),
        (dict(), portrait, 400, "send either a track file (field 'track') or the id of a finished job"),
        (dict(track=track, job=builtin_job), portrait, 400, "send either a track file"),
        (dict(track=b"not a track"), portrait, 400, "take.npz: track is not valid JSON"),
        (dict(job="0123456789abcdef"), portrait, 404, "no job '0123456789abcdef'"),
        (dict(track=track, params={"fps": 0}), portrait, 400, "fps: Input should be greater than or equal to 1"),
        (dict(track=track, params={"quality": 9}), portrait, 400, "quality: unknown parameter (allowed: fps, batch)"),
        (dict(track=still_bfm_track(31 * 30)), portrait, 400, "the track is 31.0 s long; the limit is 30 s"),
    ]
    for kwargs, image, status, detail in cases:
        r = render(client, image, **kwargs)
        assert r.status_code == status, (detail, r.text)
        assert detail in r.json()["detail"], r.json()["detail"]
    assert client.get("/v1/health").json()["queue_depth"] == 0, "nothing bad was queued"
    r = client.get(f"/v1/renders/{builtin_job}/video")
    assert r.status_code == 404


def test_missing_renderer_weights_say_where_they_go(tmp_path: Path, reference_dir: Path, portrait: bytes) -> None:
    absent = tmp_path / "models" / "styletalk" / "renderer_checkpoint.pt"
    no_sadtalker = tmp_path / "models" / "sadtalker" / "SadTalker_V0.0.2_256.safetensors"
    settings = {"renderer_checkpoint": absent, "sadtalker_weights": no_sadtalker}
    with serve(tmp_path / "data", **settings) as srv, srv.client() as c:
        report = c.get("/v1/models").json()["renderer"]
        assert not report["ready"] and report["image_size"] == 256
        expected = "renderer weights missing: put renderer_checkpoint.pt (from the official StyleTalk release) at "
        expected += str(absent)
        assert report["message"] == expected
        r = render(c, portrait, track=fixture_track(reference_dir))
        assert r.status_code == 409 and r.json()["detail"] == expected
        r = submit(c, wav_bytes(speech_like(1.4)), {"head_motion": "sadtalker"})
        assert r.status_code == 409
        assert (
            r.json()["detail"]
            == f"SadTalker weights missing: put SadTalker_V0.0.2_256.safetensors \
(the official release's checkpoints/) at {no_sadtalker}"
        )
        assert c.get("/v1/health").status_code == 200


# ---- SadTalker head motion in job params -----------------------------------------------------------
def test_sadtalker_head_motion_on_the_builtin_engine(client: httpx.Client, posevae: Path) -> None:
    audio = load_audio(HELLO)[: 2 * SAMPLE_RATE]
    r = submit(client, wav_bytes(audio), {"head_motion": "sadtalker", "pose_style": 7, "seed": 5, "fps": 30})
    assert r.status_code == 202, r.text
    status = wait_for(client, r.json()["id"], FINISHED)
    assert status["state"] == "done", status
    track = Track.from_npz(client.get(f"/v1/jobs/{r.json()['id']}/track").content)
    assert track.rig == "arkit" and track.fps == 30.0
    motion = track.meta["head_motion"]
    assert (motion["source"], motion["pose_style"], motion["seed"]) == ("sadtalker", 7, 5)
    decoded = decode_audio(wav_bytes(audio), "clip.wav")
    expected = add_head_motion(track, decoded, 7, 5, posevae).rotations["head"]
    np.testing.assert_allclose(track.rotations["head"], expected, atol=1e-6)
    assert np.ptp(track.rotations["head"], axis=0).max() > 1e-4, "the head moves"


@pytest.mark.parametrize(
    "params,detail",
    [
        ({"head_motion": "sadtalker", "pose_style": 46}, "pose_style: Input should be less than or equal to 45"),
        ({"head_motion": "sadtalker", "pose_style": -1}, "pose_style: Input should be greater than or equal to 0"),
        ({"pose_style": 3}, 'pose_style applies to head_motion "sadtalker" or the sadtalker engine'),
        ({"head_motion": "posevae"}, "head_motion"),
    ],
)
def test_bad_head_motion_params(client: httpx.Client, params: dict, detail: str) -> None:
    r = submit(client, wav_bytes(speech_like(1.4)), params)
    assert r.status_code == 400 and detail in r.json()["detail"], r.text
