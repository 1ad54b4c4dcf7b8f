"""core.atomic: a file is replaced whole or not at all; `replacing` lets the writer's OSError through as it
is (the server words it as 507), `atomic_path` words it for the user."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from core.atomic import atomic_path, replacing
from core.errors import InputError


def _fill_then_fail(tmp: Path) -> None:
    with tmp.open("w") as f:
        f.write('{"state": "do')
    raise OSError(errno.ENOSPC, "No space left on device")


def test_replacing_keeps_the_old_file_and_passes_the_oserror_on(tmp_path: Path) -> None:
    record = tmp_path / "job.json"
    record.write_text('{"state": "queued"}')
    with pytest.raises(OSError) as err, replacing(record) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp != record
        _fill_then_fail(tmp)
    assert err.type is OSError and err.value.errno == errno.ENOSPC
    assert json.loads(record.read_text()) == {"state": "queued"}
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_replacing_replaces_the_file_whole(tmp_path: Path) -> None:
    record = tmp_path / "job.json"
    record.write_text('{"state": "queued"}')
    with replacing(record) as tmp:
        tmp.write_text('{"state": "done"}')
        assert json.loads(record.read_text()) == {"state": "queued"}  # not yet
    assert json.loads(record.read_text()) == {"state": "done"}
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_atomic_path_words_the_oserror_for_the_user(tmp_path: Path) -> None:
    out = tmp_path / "take.json"
    out.write_text("previous take")
    with pytest.raises(InputError, match=f"could not write {out}: No space left on device"), atomic_path(out) as tmp:
        _fill_then_fail(tmp)
    assert out.read_text() == "previous take" and [p.name for p in tmp_path.iterdir()] == ["take.json"]
