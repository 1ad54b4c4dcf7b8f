"""CLI output is written whole or not at all: a write that fails half-way (here: the file-size limit
of `prlimit --fsize`, as a full disk would) leaves the old file intact and no temporary file beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import REPO, cli

HELLO = str(REPO / "examples" / "hello.wav")
TINY_DISK = ("prlimit", "--fsize=2048", "--")
"""No file may grow past 2 KB: every output below is larger."""


def _old(path: Path) -> bytes:
    content = b"the artist's previous take, to be kept" * 200
    path.write_bytes(content)
    return content


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("take.npz", ("animate", HELLO, "-q", "-o")),
        ("take.json", ("animate", HELLO, "-q", "-o")),
        ("head.glb", ("rig", "arkit", "-o")),
        ("head.npz", ("rig", "arkit", "-o")),
    ],
)
def test_an_interrupted_write_keeps_the_old_file(tmp_path: Path, name: str, args: tuple[str, ...]) -> None:
    out = tmp_path / name
    before = _old(out)
    done = cli(*args, str(out), prefix=TINY_DISK)
    assert done.returncode == 2
    assert done.stderr == f"mouthpiece {args[0]}: error: could not write {out}: File too large\n"
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    done = cli(*args, str(out))  # with room, the file is replaced
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("args", [("animate", HELLO, "-q", "-o"), ("rig", "arkit", "-o")])
@pytest.mark.slow
def test_writing_onto_a_folder_or_a_read_only_place_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    folder = tmp_path / "take.npz"
    folder.mkdir()
    done = cli(*args, str(folder))
    assert done.returncode == 2
    assert done.stderr == f"mouthpiece {args[0]}: error: {folder} is a folder; give a file name to write\n"
    read_only = Path("/proc/self/take.npz")
    done = cli(*args, str(read_only))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
