"""Unit tests for okeanos.windows: UTC parsing, bucket alignment, splitting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from okeanos.exceptions import WindowError
from okeanos.windows import (
    Window,
    bucket_span,
    ceil_to,
    floor_to,
    format_utc,
    iter_buckets,
    parse_duration,
    parse_utc,
    split_window,
)

UTC = timezone.utc


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2015-05-17T10:05:03Z", "2015-05-17T10:05:03+00:00", "2015-05-17T10:05:03+0000"],
)
def test_parse_utc_accepts_utc_designators(text):
    assert parse_utc(text) == at(2015, 5, 17, 10, 5, 3)


def test_parse_utc_date_means_midnight():
    assert parse_utc("2015-05-17") == at(2015, 5, 17)


@pytest.mark.parametrize(
    "text", ["2015-05-17T10:05:03", "2015-05-17T10:05:03+02:00", "2015-05-17T10:05:03-00:00", "yesterday", ""]
)
def test_parse_utc_rejects_non_utc(text):
    with pytest.raises(WindowError) as caught:
        parse_utc(text, "from")
    assert "from" in str(caught.value)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"])
def test_parse_utc_rejects_out_of_range(text):
    with pytest.raises(WindowError, match="outside the supported range"):
        parse_utc(text, "from")


def test_last_n_hours_overflow_is_window_error():
    with pytest.raises(WindowError, match="outside the supported range"):
        Window.last_n_hours(at(2015, 5, 18), 10**8)


def test_parse_duration_overflow():
    with pytest.raises(WindowError, match="too long"):
        parse_duration("99999999999999d", "chunk")


def test_parse_utc_rejects_non_string():
    with pytest.raises(WindowError):
        parse_utc(1431857103)  # type: ignore[arg-type]


def test_format_utc_ends_in_z():
    assert format_utc(at(2015, 5, 17, 10)) == "2015-05-17T10:00:00Z"


def test_format_utc_converts_offset():
    moment = datetime(2015, 5, 17, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_utc(moment) == "2015-05-17T10:00:00Z"


def test_window_rejects_reversed():
    with pytest.raises(WindowError, match="not before"):
        Window(at(2015, 5, 17, 12), at(2015, 5, 17, 10))


def test_window_rejects_empty():
    with pytest.raises(WindowError):
        Window(at(2015, 5, 17, 12), at(2015, 5, 17, 12))


def test_window_rejects_naive():
    with pytest.raises(WindowError):
        Window(datetime(2015, 5, 17), at(2015, 5, 18))


def test_last_n_hours():
    window = Window.last_n_hours(at(2015, 5, 18), 2)
    assert window.start == at(2015, 5, 17, 22)
    assert window.end == at(2015, 5, 18)


@pytest.mark.parametrize("hours", [0, -1, 1.5, True, "2"])
def test_last_n_hours_rejects_bad_hours(hours):
    with pytest.raises(WindowError, match="lastnhours"):
        Window.last_n_hours(at(2015, 5, 18), hours)


def test_floor_and_ceil_hour():
    moment = at(2015, 5, 17, 10, 5, 3)
    assert floor_to(moment, "hour") == at(2015, 5, 17, 10)
    assert ceil_to(moment, "hour") == at(2015, 5, 17, 11)


def test_ceil_on_boundary_is_identity():
    assert ceil_to(at(2015, 5, 17, 10), "hour") == at(2015, 5, 17, 10)


def test_floor_day_uses_utc_instant():
    # 23:30 at -05:00 on 17 May is 04:30 UTC on 18 May, so the UTC day is the 18th.
    late_evening = datetime(2015, 5, 17, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert floor_to(late_evening, "day") == at(2015, 5, 18)


def test_bucket_span_widens_to_whole_buckets():
    span = bucket_span(Window(at(2015, 5, 17, 10, 30), at(2015, 5, 17, 12, 15)), "hour")
    assert span == Window(at(2015, 5, 17, 10), at(2015, 5, 17, 13))


def test_iter_buckets_day():
    window = Window(at(2015, 5, 17, 23), at(2015, 5, 18, 1))
    assert list(iter_buckets(window, "day")) == [at(2015, 5, 17), at(2015, 5, 18)]


def test_unknown_granularity():
    with pytest.raises(WindowError, match="minute"):
        floor_to(at(2015, 5, 17), "minute")


def test_split_window_covers_exactly():
    window = Window(at(2015, 5, 17, 0), at(2015, 5, 19, 6))
    parts = split_window(window, timedelta(days=1))
    assert [p.start for p in parts] == [at(2015, 5, 17), at(2015, 5, 18), at(2015, 5, 19)]
    assert parts[-1].end == at(2015, 5, 19, 6)


@pytest.mark.parametrize(
    "text,expected",
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("6h", timedelta(hours=6)),
     ("1d", timedelta(days=1))],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "1w", "d", "-1h", ""])
def test_parse_duration_rejects(text):
    with pytest.raises(WindowError, match="chunk"):
        parse_duration(text, "chunk")
