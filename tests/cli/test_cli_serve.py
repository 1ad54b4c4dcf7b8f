"""`mouthpiece serve`'s options: the server settings' own defaults unless given."""

from __future__ import annotations

import pytest

from cli.commands.serve import settings_from_args
from cli.main import build_parser
from core.errors import InputError
from server.settings import Settings


def test_options_left_out_take_the_settings_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MOUTHPIECE_TOKEN", raising=False)
    given = settings_from_args(build_parser("serve").parse_args(["serve"]))
    assert given == Settings()
    with pytest.raises(SystemExit):
        build_parser("serve").parse_args(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "port (default 8765)" in shown and "longest clip (default 300)" in shown


def test_options_given_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOUTHPIECE_TOKEN", "a-long-secret")
    args = ["serve", "--port", "9000", "--max-queue", "3", "--device", "cpu", "--allow-host", "proxy.lan"]
    given = settings_from_args(build_parser("serve").parse_args(args))
    assert given == Settings(port=9000, max_queue=3, device="cpu", token="a-long-secret", allowed_hosts=("proxy.lan",))


def test_a_bad_value_is_one_line() -> None:
    with pytest.raises(InputError, match="max_queue"):
        settings_from_args(build_parser("serve").parse_args(["serve", "--max-queue", "0"]))


def test_the_header_timeout_defaults_to_the_settings_and_can_be_given() -> None:
    assert settings_from_args(build_parser("serve").parse_args(["serve"])).header_timeout == Settings().header_timeout
    given = settings_from_args(build_parser("serve").parse_args(["serve", "--header-timeout", "2.5"]))
    assert given.header_timeout == 2.5
    with pytest.raises(InputError, match="header_timeout"):
        settings_from_args(build_parser("serve").parse_args(["serve", "--header-timeout", "0"]))
