"""The shared steps: parsed_rows, limit_to, add_bucket, require_columns."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from okeanos.windows import Window
from okeanos_spark.transforms import MissingColumnsError, add_bucket, limit_to, parsed_rows, require_columns
from tests.spark_rows import rows, utc

pytestmark = pytest.mark.spark

TIMES = [
    utc(2015, 5, 17, 9, 59, 59, 999999),
    utc(2015, 5, 17, 10, 0, 0),
    utc(2015, 5, 17, 10, 30, 0),
    utc(2015, 5, 17, 11, 59, 59, 500000),
    utc(2015, 5, 17, 12, 0, 0),
    utc(2015, 5, 17, 23, 59, 59),
    utc(2015, 5, 18, 0, 0, 0),
]


@pytest.fixture(scope="module")
def times(spark):
    return spark.createDataFrame([(moment,) for moment in TIMES], "ts timestamp")


def _sorted_times(df) -> list:
    return sorted(row["ts"] for row in rows(df))


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return moment - ((moment - epoch) % step)


def test_add_bucket_hour(times) -> None:
    expected = [(moment, _floor(moment, timedelta(hours=1))) for moment in TIMES]
    assert sorted((row["ts"], row["bucket"]) for row in rows(add_bucket(times, "hour"))) == expected


def test_add_bucket_day(times) -> None:
    expected = [(moment, _floor(moment, timedelta(days=1))) for moment in TIMES]
    assert sorted((row["ts"], row["bucket"]) for row in rows(add_bucket(times, "day"))) == expected


def test_add_bucket_ignores_session_time_zone(spark, times) -> None:
    expected = [(moment, _floor(moment, timedelta(days=1))) for moment in TIMES]
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        bucketed = sorted((row["ts"], row["bucket"]) for row in rows(add_bucket(times, "day")))
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert bucketed == expected


def test_add_bucket_type(times) -> None:
    assert dict(add_bucket(times, "hour").dtypes)["bucket"] == "timestamp"


def test_add_bucket_unknown_granularity(times) -> None:
    with pytest.raises(ValueError, match="'week' is not supported"):
        add_bucket(times, "week")


def test_limit_to_window(times) -> None:
    window = Window(utc(2015, 5, 17, 10, 30), utc(2015, 5, 17, 12))
    expected = [moment for moment in TIMES if window.start <= moment < window.end]
    assert _sorted_times(limit_to(times, window)) == expected


def test_limit_to_widened_to_hours(times) -> None:
    window = Window(utc(2015, 5, 17, 10, 30), utc(2015, 5, 17, 11, 15))
    expected = [moment for moment in TIMES if utc(2015, 5, 17, 10) <= moment < utc(2015, 5, 17, 12)]
    assert _sorted_times(limit_to(times, window, granularity="hour")) == expected


def test_limit_to_widened_to_days(times) -> None:
    window = Window(utc(2015, 5, 17, 10, 30), utc(2015, 5, 17, 11, 15))
    expected = [moment for moment in TIMES if utc(2015, 5, 17) <= moment < utc(2015, 5, 18)]
    assert _sorted_times(limit_to(times, window, granularity="day")) == expected


def test_parsed_rows(spark) -> None:
    records = spark.createDataFrame(
        [
            (TIMES[0], "f", "parsed", None, "a"),
            (None, "f", "rejected", "unparseable", "b"),
            (None, "f", "skipped", None, "#c"),
        ],
        "ts timestamp, file string, status string, reason string, line string",
    )
    assert rows(parsed_rows(records)) == [{"ts": TIMES[0]}]


def test_require_columns_message(times) -> None:
    with pytest.raises(MissingColumnsError, match="top_paths_daily needs the column\\(s\\) path, bytes; the DataFrame has ts"):
        require_columns(times, ("ts", "path", "bytes"), "top_paths_daily")
