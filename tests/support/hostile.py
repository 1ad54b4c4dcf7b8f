"""Hostile inputs built on the spot (tiny files that declare huge data), a real `mouthpiece serve` in a
child process, and peak-memory readings of a process tree from /proc."""

from __future__ import annotations

import io
import json
import pickle
import socket
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from core.track import FORMAT

REPO = Path(__file__).resolve().parents[2]


# ---- hostile files ---------------------------------------------------------------------------
def wav_declaring_rate(rate: int, data_bytes: int = 192_000) -> bytes:
    """A 16-bit mono WAV of silence whose header says ``rate`` Hz (1 Hz: 192 KB is 27 hours)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", len(body) + data_bytes) + body + bytes(data_bytes)


def flac_of_silence(seconds: float, rate: int = 8000) -> bytes:
    """A FLAC of ``seconds`` of silence, written block by block (an hour is a few hundred KB)."""
    buf = io.BytesIO()
    block = np.zeros(rate * 60, dtype=np.int16)
    with sf.SoundFile(buf, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as f:
        left = int(seconds * rate)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return buf.getvalue()


def npz_track_declaring(frames: int, channels: int = 73, rig: str = "bfm") -> bytes:
    """A track .npz whose ``values`` array is ``frames``×``channels`` float32 zeros, deflated as it is
    written (a few hundred KB can hold a GB), so that building it costs no memory."""
    buf = io.BytesIO()
    small = {
        "format": np.array(FORMAT),
        "fps": np.array(30.0),
        "rig": np.array(rig),
        "channels": np.array([f"c{i}" for i in range(channels)]),
        "meta": np.array(json.dumps({})),
    }
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in small.items():
            with z.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
        with z.open("values.npy", "w", force_zip64=True) as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (frames, channels)}
            np.lib.format.write_array_header_1_0(f, header)
            row_block = bytes(4 * channels * 65536)
            left = frames
            while left > 0:
                n = min(left, 65536)
                f.write(row_block[: 4 * channels * n])
                left -= n
    return buf.getvalue()


def mat_v73(order: str = "IM") -> bytes:
    """The start of a MATLAB v7.3 file: its 128-byte header (version 0x0200, byte order ``IM`` or ``MI``),
    the rest of the 512-byte user block, then an HDF5 superblock signature."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Wed Dec  2 10:00:00 2026 HDF5 schema 1.00 ."
    version = b"\x00\x02" if order == "IM" else b"\x02\x00"
    header = text.ljust(116, b" ") + bytes(8) + version + order.encode()
    return header.ljust(512, b"\x00") + b"\x89HDF\r\n\x1a\n" + bytes(88)


class _Allocate:
    """Pickles as numpy's ``_reconstruct(ndarray, shape, 'b')``: an array allocated, never filled."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __reduce__(self) -> tuple:
        return np.core.multiarray._reconstruct, (np.ndarray, self.shape, b"b")


def pickle_declaring(shapes: dict[str, tuple[int, ...]]) -> bytes:
    """A pickled dict of arrays of these shapes that only the loader would allocate (a few hundred bytes)."""
    return pickle.dumps({key: _Allocate(shape) for key, shape in shapes.items()}, protocol=2)


# ---- memory of a process tree ----------------------------------------------------------------
def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextmanager
def peak_growth_mb(pid: int) -> Iterator[list[float]]:
    """Measure, in MB, how far the peak RSS of ``pid``'s tree rose over its RSS before the block.

    Each process's peak (VmHWM) is reset through /proc/PID/clear_refs first; the figure sums the
    processes' peaks, so it is an upper bound of the tree's peak.
    """
    before = 0
    for p in tree(pid):
        before += _status_kb(p, "VmRSS")
        Path(f"/proc/{p}/clear_refs").write_text("5")
    result: list[float] = []
    yield result
    peak = sum(_status_kb(p, "VmHWM") for p in tree(pid))
    result.append((peak - before) / 1024)


# ---- a real server in a child process --------------------------------------------------------
@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_args(data_dir: Path, port: int, *extra: str) -> list[str]:
    cli = [sys.executable, "-m", "cli.main", "serve", "--device", "cpu"]
    return [*cli, "--port", str(port), "--data-dir", str(data_dir), *extra]


@contextmanager
def server_process(
    data_dir: Path, *extra: str, prefix: tuple[str, ...] = (), timeout: float = 60
) -> Iterator[ServerProcess]:
    """`mouthpiece serve` on a free 127.0.0.1 port (run through ``prefix``, e.g. ``prlimit``), stopped
    (SIGINT, then kill) at the end."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    command = [*prefix, *serve_args(data_dir, port, *extra)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    running = ServerProcess(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{running.url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
"""Runs the command from a small process: a child's peak RSS counts the pages of the process that forked it."""


def cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run `mouthpiece ARGS` (through ``prefix``, e.g. ``prlimit``)."""
    command = [*prefix, sys.executable, "-m", "cli.main", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def cli_peak_mb(*args: str, cwd: Path = REPO) -> tuple[int, str, float]:
    """Run `mouthpiece ARGS`; (exit status, stderr, peak RSS in MB of the command and its children)."""
    command = [sys.executable, "-m", "cli.main", *args]
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, capture_output=True, text=True)
    status, peak_kb = done.stdout.split()
    return int(status), done.stderr, int(peak_kb) / 1024
