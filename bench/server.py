"""`mouthpiece bench server`: throughput and latency of the HTTP server, and its overhead over the engine.

Starts `mouthpiece serve` in a subprocess on a free 127.0.0.1 port, then for each client count
submits 10 s speech clips (espeak-ng) from that many threads, each waiting for its track before
sending the next. Latency is submit → track downloaded. The overhead compares 1-client server
latency with the same engine run in-process on the same clip, in interleaved pairs.
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from core.audio import SAMPLE_RATE
from core.engines import EngineOptions, get_engine
from core.errors import MouthpieceError

FINAL = ("done", "failed", "cancelled")
TEXT = (
    "The quick brown fox jumps over the lazy dog while the band plays a cheerful tune. "
    "Meanwhile, seven bright people watch the show from the balcony and smile."
)


@dataclass
class Level:
    clients: int
    jobs: int
    seconds: float
    latencies: list[float]

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q))


def speech_clip(seconds: float) -> np.ndarray:
    """``seconds`` of synthetic speech (espeak-ng), repeated or cut to length."""
    from core.testing.espeak import synthesize

    audio, _ = synthesize(TEXT)
    n = int(seconds * SAMPLE_RATE)
    return np.resize(audio, n).astype(np.float32)


@dataclass
class Overhead:
    local: float
    """median seconds of the engine run in-process"""
    paired: float
    """median over interleaved pairs of server latency / in-process time - 1"""
    own: float
    """median of (latency - the job's run time on the server) / run time: what HTTP and the queue add"""


def measure_overhead(url: str, wav: bytes, audio: np.ndarray, engine_name: str, pairs: int) -> Overhead:
    """Interleave in-process runs with 1-client server jobs so both see the same machine load."""
    engine = get_engine(engine_name)
    engine.run(audio, EngineOptions())
    local, paired, own = [], [], []
    with httpx.Client(base_url=url, timeout=600) as client:
        for _ in range(pairs):
            t0 = time.perf_counter()
            engine.run(audio, EngineOptions())
            local.append(time.perf_counter() - t0)
            latency, run = one_job(client, wav, engine_name)
            paired.append(latency / local[-1] - 1)
            own.append((latency - run) / run)
    return Overhead(statistics.median(local), statistics.median(paired), statistics.median(own))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: str, max_queue: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--data-dir", data_dir]
    cmd += ["--device", "cpu", "--max-queue", str(max_queue)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MouthpieceError(f"the server exited with code {proc.returncode} before answering")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise MouthpieceError("the server did not answer /v1/health within 60 s")


def one_job(client: httpx.Client, wav: bytes, engine: str) -> tuple[float, float]:
    """Submit, wait (long-polling the status), download: (latency, the job's run time on the server)."""
    t0 = time.perf_counter()
    r = client.post("/v1/jobs", files={"audio": ("clip.wav", wav)}, data={"params": f'{{"engine": "{engine}"}}'})
    r.raise_for_status()
    job_id = r.json()["id"]
    status: dict[str, Any] = {"state": "queued"}
    while status["state"] not in FINAL:
        status = client.get(f"/v1/jobs/{job_id}", params={"wait": 30}).json()
    if status["state"] != "done":
        raise MouthpieceError(f"a bench job ended {status['state']}: {status['message']}")
    client.get(f"/v1/jobs/{job_id}/track").raise_for_status()
    return time.perf_counter() - t0, status["finished"] - status["started"]


def run_level(url: str, wav: bytes, engine: str, clients: int, jobs: int) -> Level:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = [jobs // clients + (i < jobs % clients) for i in range(clients)]

    def loop(count: int) -> None:
        with httpx.Client(base_url=url, timeout=600) as client:
            for _ in range(count):
                seconds, _ = one_job(client, wav, engine)
                with lock:
                    latencies.append(seconds)

    threads = [threading.Thread(target=loop, args=(n,)) for n in per_client]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Level(clients, len(latencies), time.perf_counter() - t0, latencies)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench server", description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="builtin")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--jobs", type=int, default=16, help="jobs per client count (at least one per client)")
    parser.add_argument("--pairs", type=int, default=10, help="interleaved in-process/server runs for the overhead")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    audio = speech_clip(args.clip_seconds)
    buf = io.BytesIO()
    sf.write(buf, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    decoded = sf.read(io.BytesIO(wav), dtype="float32")[0]  # the baseline sees what the server sees

    with tempfile.TemporaryDirectory() as data_dir:
        proc, url = start_server(data_dir, max_queue=max(args.clients) + 1)
        try:
            with httpx.Client(base_url=url, timeout=600) as warm:
                one_job(warm, wav, args.engine)  # engine load and first-run costs
            console.print(f"overhead: {args.pairs} in-process/server pairs ...")
            overhead = measure_overhead(url, wav, decoded, args.engine, args.pairs)
            levels = []
            for clients in args.clients:
                console.print(f"{clients} client(s) ...")
                levels.append(run_level(url, wav, args.engine, clients, max(args.jobs, clients)))
        finally:
            proc.terminate()
            proc.wait(30)

    table = Table(title=f"server bench: {args.engine}, {args.clip_seconds:g} s clips")
    for column in ("clients", "jobs", "jobs/s", "p50 latency s", "p95 latency s"):
        table.add_column(column, justify="right")
    for level in levels:
        table.add_row(
            str(level.clients),
            str(level.jobs),
            f"{level.jobs_per_second:.3f}",
            f"{level.percentile(50):.3f}",
            f"{level.percentile(95):.3f}",
        )
    console.print(table)
    console.print(
        f"in-process: {overhead.local:.3f} s per clip (median of {args.pairs}). Server overhead at 1 client "
        f"(target under 5%): {overhead.own:+.1%} over the job's own run time on the server, "
        f"{overhead.paired:+.1%} against the interleaved in-process runs (includes machine noise)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
