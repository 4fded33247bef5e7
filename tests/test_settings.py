"""Settings from the environment: cast, validated, loud when wrong."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from clubgraph.cli import main
from clubgraph.connectors.tight import DEV_CREDENTIALS as TIGHT_DEV
from clubgraph.connectors.tight import TightConnector
from clubgraph.domain import Source
from clubgraph.settings import Settings, SettingsError
from clubgraph.upstreams import build_connector


def test_no_url_means_the_embedded_sandbox() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_sandbox
    assert (settings.trace_upstream, settings.max_page_size, settings.default_page_size) == (
        False,
        100,
        50,
    )


def test_urls_and_credentials_are_read() -> None:
    settings = Settings.from_env(
        {
            "CLUBGRAPH_TIGHT_URL": "https://api.example.test/rest",
            "CLUBGRAPH_TIGHT_CLIENT_ID": "id",
            "CLUBGRAPH_TIGHT_CLIENT_SECRET": "secret",
            "CLUBGRAPH_TIMETAP_URL": "http://127.0.0.1:9102",
            "CLUBGRAPH_TRACE_UPSTREAM": "true",
            "CLUBGRAPH_MAX_PAGE_SIZE": "100",
        }
    )
    assert not settings.embedded_sandbox
    by_source = {s.source: s for s in settings.sources}
    assert set(by_source) == {Source.TIGHT, Source.TIMETAP}
    assert by_source[Source.TIGHT].credentials.client_id == "id"
    assert by_source[Source.TIMETAP].credentials is None
    assert settings.trace_upstream
    assert (settings.max_page_size, settings.default_page_size) == (100, 50)


def test_a_url_without_credentials_uses_development_credentials_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings.from_env({"CLUBGRAPH_TIGHT_URL": "http://127.0.0.1:9104"})
    with caplog.at_level(logging.WARNING, logger="clubgraph"):
        connector = build_connector(settings.sources[0])
    assert isinstance(connector, TightConnector)
    assert "without credentials" in caplog.text
    assert "development credentials" in caplog.text
    assert TIGHT_DEV.client_secret not in caplog.text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLUBGRAPH_TIGHT_URL": "ftp://x"}, r"must be an http\(s\) URL"),
        ({"CLUBGRAPH_TRACE_UPSTREAM": "maybe"}, "is not a boolean"),
        ({"CLUBGRAPH_MAX_PAGE_SIZE": "lots"}, "is not an integer"),
        ({"CLUBGRAPH_MAX_PAGE_SIZE": "0"}, "must be >= 1"),
        ({"CLUBGRAPH_ROW_MEMO_MB": "-1"}, "must be >= 0"),
        ({"CLUBGRAPH_ROW_MEMO_MB": "4.5"}, "is not an integer"),
    ],
)
def test_invalid_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        Settings.from_env(env)
    assert next(iter(env)) in str(err.value)


def test_the_rows_memo_is_sized_in_megabytes() -> None:
    assert Settings.from_env({}).row_memo_bytes == 16 * 1024 * 1024
    assert Settings.from_env({"CLUBGRAPH_ROW_MEMO_MB": "0"}).row_memo_bytes == 0
    assert Settings.from_env({"CLUBGRAPH_ROW_MEMO_MB": "64"}).row_memo_bytes == 64 * 2**20


def test_a_toml_file_gives_settings_and_the_environment_overrides_it(tmp_path: Path) -> None:
    path = tmp_path / "clubgraph.toml"
    path.write_text(
        'max_depth = 20\nmax_aliases = 12\ncors_origins = ["https://a.test", "https://b.test"]\n'
        "cache = true\n"
        '[tight]\nurl = "https://api.example.test/rest"\nclient_id = "id"\nclient_secret = "s"\n'
    )
    settings = Settings.from_env({"CLUBGRAPH_CONFIG": str(path), "CLUBGRAPH_MAX_ALIASES": "7"})
    assert (settings.max_depth, settings.max_aliases) == (20, 7)
    assert settings.cors_origins == ("https://a.test", "https://b.test")
    assert settings.cache_enabled
    [tight] = settings.sources
    assert (tight.source, tight.url) == (Source.TIGHT, "https://api.example.test/rest")
    assert tight.credentials is not None


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "clubgraph.toml"
    path.write_text('max_depth = "deep"\nmax_cost = -3\nmax_deph = 4\n[tight]\nurl = "ftp://x"\n')
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"CLUBGRAPH_CONFIG": str(path), "CLUBGRAPH_CACHE": "maybe"})
    assert sorted(raised.value.problems) == sorted(
        [
            "CLUBGRAPH_TIGHT_URL='ftp://x' must be an http(s) URL",
            "CLUBGRAPH_MAX_DEPTH='deep' is not an integer",
            "CLUBGRAPH_MAX_COST=-3 must be >= 1",
            "CLUBGRAPH_CACHE='maybe' is not a boolean (use 1/0, true/false)",
            f"{path}: max_deph is not a setting",
        ]
    )
    assert str(raised.value).startswith("5 problems:\n  - ")


@pytest.mark.parametrize(
    ("text", "message"),
    [("max_depth = ", "not valid TOML"), (None, "cannot be read")],
)
def test_a_config_file_that_cannot_be_used_says_why(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "clubgraph.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"CLUBGRAPH_CONFIG": str(path)})


def test_config_check_prints_the_effective_settings_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clubgraph.toml"
    path.write_text('redis_url = "redis://:hunter2-redis@127.0.0.1:6379/0"\nmax_depth = 9\n')
    _without_clubgraph_env(monkeypatch)
    monkeypatch.setenv("CLUBGRAPH_JWT_SECRET", "a-jwt-secret-of-more-than-32-bytes-here")
    monkeypatch.setenv("CLUBGRAPH_FITNESSFORCE_WEBHOOK_SECRET", "whsec-one,whsec-two")
    monkeypatch.setenv("CLUBGRAPH_FITNESSFORCE_URL", "https://ufp.example.test")
    monkeypatch.setenv("CLUBGRAPH_FITNESSFORCE_USERNAME", "api-user")
    monkeypatch.setenv("CLUBGRAPH_FITNESSFORCE_PASSWORD", "ufp-password-1")
    assert main(["--config", str(path), "config", "check"]) == 0
    out = capsys.readouterr().out
    rows = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    assert rows["max_depth"] == "9"
    assert rows["redis_url"] == "redis://:***@127.0.0.1:6379/0"
    assert rows["jwt_secret"] == "*** (set)"
    assert rows["fitnessforce"] == "https://ufp.example.test (configured credentials)"
    for secret in ("hunter2-redis", "a-jwt-secret", "whsec-", "ufp-password-1"):
        assert secret not in out

    monkeypatch.setenv("CLUBGRAPH_MAX_TOKENS", "lots")
    assert main(["--config", str(path), "config", "check"]) == 2
    assert "CLUBGRAPH_MAX_TOKENS='lots' is not an integer" in capsys.readouterr().err


def test_the_file_also_sets_the_process_settings_serve_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clubgraph.toml"
    path.write_text("port = 9711\nworkers = 3\nshutdown_timeout = 5\n")
    _without_clubgraph_env(monkeypatch)
    monkeypatch.setenv("CLUBGRAPH_WORKERS", "2")  # the environment wins over the file
    assert main(["--config", str(path), "config", "check"]) == 0
    assert os.environ["CLUBGRAPH_PORT"] == "9711"
    assert os.environ["CLUBGRAPH_WORKERS"] == "2"
    path.write_text('workers = "many"\n')
    monkeypatch.delenv("CLUBGRAPH_WORKERS")
    monkeypatch.delenv("CLUBGRAPH_PORT")
    monkeypatch.delenv("CLUBGRAPH_SHUTDOWN_TIMEOUT")
    assert main(["--config", str(path), "config", "check"]) == 2
    assert "CLUBGRAPH_WORKERS='many' is not an integer" in capsys.readouterr().err


def _without_clubgraph_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CLUBGRAPH_* variable, and whatever ``main`` sets (from a file) undone after."""
    names = {k for k in os.environ if k.startswith("CLUBGRAPH_")}
    names |= {
        "CLUBGRAPH_CONFIG",
        "CLUBGRAPH_HOST",
        "CLUBGRAPH_PORT",
        "CLUBGRAPH_WORKERS",
        "CLUBGRAPH_SHUTDOWN_TIMEOUT",
        "CLUBGRAPH_REDIS_URL",
        "CLUBGRAPH_MAX_DEPTH",
    }
    for name in names:
        monkeypatch.setenv(name, "")  # recorded: restored (or removed) afterwards
        monkeypatch.delenv(name)
