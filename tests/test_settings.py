"""Settings from the environment: cast, validated, loud when wrong."""

from __future__ import annotations

import logging

import pytest

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
    ],
)
def test_invalid_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        Settings.from_env(env)
    assert next(iter(env)) in str(err.value)
