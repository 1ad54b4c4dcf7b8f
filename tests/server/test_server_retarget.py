"""The server's ``rig`` job param: a SadTalker (BFM) take comes back on the ARKit head's channels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.arkit import ARKIT_CHANNELS
from core.testing.signals import speech_like
from core.track import Track
from tests.core.sadtalker_layout import write_weights
from tests.server.test_server import FINISHED, RunningServer, serve, submit, wait_for, wav_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    from core.retarget.synthetic import bfm_arrays
    from meshes import load_head
    from tests.synthetic_assets import write_bfm_mat

    models = tmp_path_factory.mktemp("models")
    (models / "sadtalker").mkdir()
    write_weights(models / "sadtalker" / "SadTalker_V0.0.2_256.safetensors", seed=3)
    (models / "BFM").mkdir()
    write_bfm_mat(models / "BFM" / "BFM_model_front.mat", bfm_arrays(load_head())[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOUTHPIECE_MODELS", str(models))  # the engine process inherits these
        mp.setenv("MOUTHPIECE_HOME", str(tmp_path_factory.mktemp("home")))
        with serve(tmp_path_factory.mktemp("data"), max_audio_seconds=30) as srv:
            yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_a_sadtalker_job_onto_the_arkit_rig(client: httpx.Client) -> None:
    r = submit(client, wav_bytes(speech_like(1.2, seed=1)), {"engine": "sadtalker", "rig": "arkit", "seed": 2})
    assert r.status_code == 202, r.text
    status = wait_for(client, r.json()["id"], FINISHED, timeout=300)
    assert status["state"] == "done", status
    track = Track.from_npz(client.get(f"/v1/jobs/{r.json()['id']}/track").content)
    assert track.rig == "arkit" and track.channels == list(ARKIT_CHANNELS) and track.meta["retargeted_from"] == "bfm"
    assert track.values.min() >= 0.0 and track.values.max() <= 1.0


def test_bad_and_unavailable_rigs_are_refused_clearly(client: httpx.Client, tmp_path: Path) -> None:
    r = submit(client, wav_bytes(speech_like(0.5)), {"rig": "maya"})
    assert r.status_code in (400, 422) and "rig" in r.text
    r = submit(client, wav_bytes(speech_like(0.5)), {"rig": "flame"})  # no FLAME imported on this server
    status = wait_for(client, r.json()["id"], FINISHED, timeout=120)
    assert status["state"] == "failed" and "import-flame" in status["message"], status
    r = submit(client, wav_bytes(speech_like(0.5)), {"rig": "arkit"})  # builtin is already on arkit
    assert wait_for(client, r.json()["id"], FINISHED, timeout=120)["state"] == "done"
