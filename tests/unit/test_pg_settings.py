"""Session settings behave as PostgreSQL 15's (values observed on PostgreSQL 15.18)."""

from __future__ import annotations

import pytest

from hati.errors import CantChangeRuntimeParam, InvalidParameter, UndefinedObject
from hati.pg.settings import Settings


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("statement_timeout", "60000", "1min"),
        ("statement_timeout", "1500ms", "1500ms"),
        ("statement_timeout", "2s", "2s"),
        ("statement_timeout", "0", "0"),
        ("work_mem", "64MB", "64MB"),
        ("extra_float_digits", "3", "3"),
        ("datestyle", "german", "German, DMY"),
        ("DateStyle", "ISO, DMY", "ISO, DMY"),
        ("search_path", 'a, "B", public', 'a, "B", public'),
        ("timezone", "europe/paris", "Europe/Paris"),
        ("application_name", "foo", "foo"),
        ("jit", "yes", "on"),
        ("client_min_messages", "WARNING", "warning"),
    ],
)
def test_set_then_show(name: str, value: str, shown: str) -> None:
    s = Settings()
    s.set(name, value)
    assert s.get(name) == shown


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("foo", "1", UndefinedObject),
        ("statement_timeout", "abc", InvalidParameter),
        ("jit", "maybe", InvalidParameter),
        ("extra_float_digits", "9", InvalidParameter),
        ("server_version", "1", CantChangeRuntimeParam),
        ("timezone", "Mars/Olympus", InvalidParameter),
    ],
)
def test_refused_as_postgresql_refuses(name: str, value: str, error: type[Exception]) -> None:
    s = Settings()
    with pytest.raises(error):
        s.set(name, value)
    assert s.session == {}


def test_custom_names_need_a_dot() -> None:
    s = Settings()
    s.set("foo.bar", "1")
    assert s.get("foo.bar") == "1"
    with pytest.raises(UndefinedObject):
        s.get("foo.baz")


def test_set_local_ends_with_the_transaction_and_reports() -> None:
    sent: list[tuple[str, str]] = []
    s = Settings(on_report=lambda k, v: sent.append((k, v)))
    s.set("TimeZone", "UTC")
    s.set("TimeZone", "Europe/Paris", local=True)
    assert s.get("timezone") == "Europe/Paris"
    s.end_transaction()
    assert s.get("timezone") == "UTC"
    assert sent == [("TimeZone", "Europe/Paris"), ("TimeZone", "UTC")]


def test_reset_all_returns_to_the_startup_values() -> None:
    s = Settings()
    s.set_startup("application_name", "psql")
    s.set("application_name", "x")
    s.set("statement_timeout", "5s")
    s.reset_all()
    assert (s.get("application_name"), s.get("statement_timeout")) == ("psql", "0")
