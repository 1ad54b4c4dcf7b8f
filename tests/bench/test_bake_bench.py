"""`mouthpiece bench bake` runs on the real bpy module and prints its figures."""

from __future__ import annotations

import json

import pytest

from cli.main import main


def test_bake_bench_prints_positive_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "bake", "--channels", "12", "--frames", "90", "--sampled", "4", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["channels"], figures["frames"]) == (12, 90)
    for name in ("bulk_bake_cpu_s", "keyframe_insert_cpu_s_scaled", "speedup"):
        assert figures[name] > 0, name
    assert figures["bulk_target_s"] is None  # the target is stated for the default size only


def test_bake_bench_refuses_an_empty_take(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "bake", "--frames", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
