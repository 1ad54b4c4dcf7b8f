"""Ctrl-C, as a terminal sends it (SIGINT to the whole process group), while `mouthpiece animate`
recognizes or aligns speech and while `mouthpiece blend --video` renders: exit status 130, one line,
and the files that were there stay as they were, with nothing half-written beside them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest

from core.audio import write_wav
from core.testing.espeak import synthesize
from core.testing.voices import SENTENCES
from tests.support.hostile import REPO

TEXT = " ".join([s for s in SENTENCES if not any(c.isdigit() for c in s)] * 6)
"""About five minutes of speech: a pass of pocketsphinx over it takes three times REACTION or more."""
REACTION = 5.0
"""How long a run may take to end after Ctrl-C (a bound, not a measurement: it ends in a fraction of a second)."""
OLD = {"take.npz": b"the previous take", "scene.blend": b"the previous scene", "out.mp4": b"the previous video"}


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "long.wav"
    write_wav(path, synthesize(TEXT)[0])
    return path


def _folder_with_old_files(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    for name, content in OLD.items():
        (folder / name).write_bytes(content)
    return folder


def _ctrl_c_once(args: list[str], started: Callable[[int], bool]) -> subprocess.CompletedProcess[str]:
    """Run `mouthpiece ARGS` in its own process group, press Ctrl-C once ``started(pid)`` says the work is
    under way, and wait for the end."""
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=REPO, text=True, process_group=0,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while not started(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=REACTION)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running {REACTION:g} s after Ctrl-C: {proc.communicate()}")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _assert_interrupted(done: subprocess.CompletedProcess[str], command: str, folder: Path) -> None:
    assert done.returncode == 130, done.stderr
    assert done.stderr == f"mouthpiece {command}: interrupted; nothing written\n"  # one line, no traceback
    assert done.stdout == ""
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == OLD  # old files intact, nothing beside them


def _recognizing(pid: int) -> bool:
    """True a moment after pocketsphinx's acoustic model is loaded: the decode is then under way."""
    if "/en-us/mdef" not in Path(f"/proc/{pid}/maps").read_text():
        return False
    time.sleep(1.0)  # the word decoder loads in a fraction of this; its pass over the clip lasts far longer
    return True


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--transcript", TEXT]], ids=["recognition", "forced-alignment"])
def test_ctrl_c_while_animate_decodes_speech(long_wav: Path, tmp_path: Path, extra: list[str]) -> None:
    folder = _folder_with_old_files(tmp_path)
    done = _ctrl_c_once(["animate", str(long_wav), "-q", "-o", str(folder / "take.npz"), *extra], _recognizing)
    _assert_interrupted(done, "animate", folder)


@pytest.mark.slow
def test_ctrl_c_while_blend_renders_the_video(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    clip = tmp_path / "clip.wav"
    write_wav(clip, synthesize(" ".join(SENTENCES[20:24]))[0])  # about 10 s: 120 frames at 12 fps
    folder = _folder_with_old_files(tmp_path)

    def rendering(pid: int) -> bool:  # the preview's temporary file has its first frames
        with suppress(FileNotFoundError):  # gone if the run has ended
            return any(p.stat().st_size > 0 for p in folder.glob(".out.*.part.mp4"))
        return False

    args = ["blend", str(clip), "-q", "-o", str(folder / "scene.blend"), "--video", str(folder / "out.mp4")]
    done = _ctrl_c_once([*args, "--resolution", "160x160", "--fps", "12"], rendering)
    _assert_interrupted(done, "blend", folder)
