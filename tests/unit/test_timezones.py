"""The TimeZone setting: PostgreSQL's spellings, and the zone a session computes in."""

from __future__ import annotations

import pytest

from hati.app import App
from hati.errors import FeatureNotSupported, InvalidParameter
from hati.pg import timezones
from hati.session import Session


@pytest.mark.parametrize(
    ("value", "shown", "icu"),
    [
        ("10.5", "<+10:30>-10:30", "GMT+10:30"),
        ("-3", "<-03>+03", "GMT-03:00"),
        ("-3.25", "<-03:15>+03:15", "GMT-03:15"),
        ("0", "<+00>-00", "UTC"),
        ("INTERVAL '05:30:00'", "<+05:30>-05:30", "GMT+05:30"),
        ("UTC+3", "UTC+3", "GMT-03:00"),  # POSIX: west of Greenwich
        ("utc-10:30", "UTC-10:30", "GMT+10:30"),
        ("+05:30", "+05:30", "GMT-05:30"),
        ("<+10:30>-10:30", "<+10:30>-10:30", "GMT+10:30"),
        ("europe/paris", "Europe/Paris", "Europe/Paris"),
        ("gmt", "GMT", "GMT"),
    ],
)
def test_values_are_read_and_shown_as_postgresql_does(value: str, shown: str, icu: str) -> None:
    zone = timezones.parse(value)
    assert (zone.shown, zone.icu) == (shown, icu)
    assert timezones.parse(zone.shown) == zone  # what SHOW says names the same zone


@pytest.mark.parametrize("value", ["Z", "nosuch/zone", " Europe/Paris", "", "200", "UTC+170"])
def test_values_postgresql_refuses(value: str) -> None:
    with pytest.raises(InvalidParameter):
        timezones.parse(value)


def test_zones_without_an_equivalent_are_refused_not_approximated() -> None:
    for value in ("EST5EDT,M3.2.0,M11.1.0", "FOO+3BAR", "UTC+24", "5.123"):
        with pytest.raises(FeatureNotSupported):
            timezones.parse(value)


def test_interval_constants_take_their_field() -> None:
    assert timezones.interval_setting("5", (1024,)) == "INTERVAL '05:00:00'"
    assert timezones.interval_setting("+05:30", (3072,)) == "INTERVAL '05:30:00'"
    assert timezones.interval_setting("-3 hours 30 minutes", None) == "INTERVAL '-02:30:00'"
    assert timezones.interval_setting("1 day", None) == "INTERVAL '1 day'"


def _hour(session: Session) -> object:
    sql = "SELECT extract(hour FROM '2020-01-01 12:00:00+00'::timestamptz)::int AS h"
    return next(session.run(sql)).tuples()[0][0]


def test_the_session_computes_in_its_zone(app: App) -> None:
    s = app.session(7, {"user": "tester"})
    other = app.session(8, {"user": "tester"})
    try:
        s.run_one("SET TimeZone = 'Europe/Paris'")
        assert _hour(s) == 13
        assert _hour(other) == 12  # its own zone
        s.run_one("BEGIN")
        s.run_one("SET LOCAL TIME ZONE -3")
        assert _hour(s) == 9
        s.run_one("COMMIT")
        assert _hour(s) == 13
        assert s.zone() == "Europe/Paris"
    finally:
        s.close()
        other.close()
