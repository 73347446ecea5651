"""The four job transforms over small inline DataFrames, compared row by row."""

from __future__ import annotations

import pytest

from okeanos_spark import schemas
from okeanos_spark.registry import all_jobs, get_job
from tests.spark_rows import rows, utc

pytestmark = pytest.mark.spark

HOUR_10 = utc(2015, 5, 17, 10)
HOUR_11 = utc(2015, 5, 17, 11)
DAY_17 = utc(2015, 5, 17)
DAY_18 = utc(2015, 5, 18)

_WEB = "bucket timestamp, client string, http_status string, path string, bytes long"
_EVENTS = "bucket timestamp, event_type string, job_id string"


def _sorted(df, *keys: str) -> list:
    return sorted(rows(df), key=lambda row: tuple(str(row[key]) for key in keys))


def test_http_status_hourly(spark) -> None:
    requests = spark.createDataFrame(
        [
            (HOUR_10, "10.0.0.1", "200", "/a", 100),
            (HOUR_10, "10.0.0.1", "200", "/b", 50),
            (HOUR_10, "2001:db8::1", "200", "/a", 0),
            (HOUR_10, "10.0.0.3", "404", "/missing", 10),
            (HOUR_11, "10.0.0.1", "200", "/a", 5),
            (HOUR_11, "10.0.0.1", "-", None, 0),
        ],
        _WEB,
    )
    expected = [
        {"bucket": HOUR_10, "status": "200", "requests": 3, "bytes": 150, "clients": 2},
        {"bucket": HOUR_10, "status": "404", "requests": 1, "bytes": 10, "clients": 1},
        {"bucket": HOUR_11, "status": "-", "requests": 1, "bytes": 0, "clients": 1},
        {"bucket": HOUR_11, "status": "200", "requests": 1, "bytes": 5, "clients": 1},
    ]
    output = get_job("http_status_hourly").transform(requests)
    assert _sorted(output, "bucket", "status") == expected


def test_http_status_hourly_null_client_and_bytes(spark) -> None:
    # Formats such as nginx-json may leave the client or the bytes null: a
    # null client is a request but not a client, and null bytes add nothing.
    requests = spark.createDataFrame(
        [
            (HOUR_10, None, "200", "/a", 7),
            (HOUR_10, None, "200", "/a", None),
            (HOUR_10, "10.0.0.1", "200", "/a", None),
            (HOUR_10, None, "500", "/a", None),
        ],
        _WEB,
    )
    expected = [
        {"bucket": HOUR_10, "status": "200", "requests": 3, "bytes": 7, "clients": 1},
        {"bucket": HOUR_10, "status": "500", "requests": 1, "bytes": 0, "clients": 0},
    ]
    output = get_job("http_status_hourly").transform(requests)
    assert _sorted(output, "bucket", "status") == expected


def test_top_paths_daily(spark) -> None:
    requests = spark.createDataFrame(
        [
            (DAY_17, "10.0.0.1", "200", "/a", 100),
            (DAY_17, "10.0.0.2", "304", "/a", 0),
            (DAY_17, "10.0.0.1", "200", "/b", 7),
            (DAY_17, "10.0.0.4", "408", None, 0),
            (DAY_18, "10.0.0.1", "200", "/a", 1),
        ],
        _WEB,
    )
    expected = [
        {"bucket": DAY_17, "path": "/a", "requests": 2, "bytes": 100},
        {"bucket": DAY_17, "path": "/b", "requests": 1, "bytes": 7},
        {"bucket": DAY_18, "path": "/a", "requests": 1, "bytes": 1},
    ]
    output = get_job("top_paths_daily").transform(requests)
    assert _sorted(output, "bucket", "path") == expected


def test_clicks_by_day(spark) -> None:
    events = spark.createDataFrame(
        [
            (DAY_17, "click", "job-1"),
            (DAY_17, "click", "job-1"),
            (DAY_17, "impression", "job-1"),
            (DAY_17, "impression", "job-2"),
            (DAY_17, "apply", "job-2"),
            (DAY_18, "click", "job-2"),
        ],
        _EVENTS,
    )
    expected = [
        {"bucket": DAY_17, "job_id": "job-1", "clicks": 2},
        {"bucket": DAY_18, "job_id": "job-2", "clicks": 1},
    ]
    output = get_job("clicks_by_day").transform(events)
    assert _sorted(output, "bucket", "job_id") == expected


def test_job_performance(spark) -> None:
    events = spark.createDataFrame(
        [(HOUR_10, "impression", "job-1")] * 4
        + [(HOUR_10, "click", "job-1")]
        + [(HOUR_10, "click", "job-2")] * 2
        + [(HOUR_10, "apply", "job-2")]
        + [(HOUR_11, "impression", "job-3")] * 3,
        _EVENTS,
    )
    expected = [
        {"bucket": HOUR_10, "job_id": "job-1", "impressions": 4, "clicks": 1, "applies": 0, "ctr": 0.25},
        # Clicks without impressions in the hour: the CTR is 0.0 by definition.
        {"bucket": HOUR_10, "job_id": "job-2", "impressions": 0, "clicks": 2, "applies": 1, "ctr": 0.0},
        {"bucket": HOUR_11, "job_id": "job-3", "impressions": 3, "clicks": 0, "applies": 0, "ctr": 0.0},
    ]
    output = get_job("job_performance").transform(events)
    assert _sorted(output, "bucket", "job_id") == expected


_SPARK_TYPES = {"long": "bigint", "double": "double"}


@pytest.mark.parametrize("job", all_jobs(), ids=lambda job: job.name)
def test_job_output_columns(spark, job) -> None:
    empty = spark.createDataFrame([], schemas.spark_schema(job.schema)).selectExpr("*", "ts AS bucket")
    output = job.transform(empty)
    expected = [("bucket", "timestamp")]
    expected += [(name, "string") for name in job.dimensions]
    expected += [(metric.name, _SPARK_TYPES[metric.type]) for metric in job.metrics]
    assert output.dtypes == expected


@pytest.mark.parametrize("job", all_jobs(), ids=lambda job: job.name)
def test_job_formats_match_schema(job) -> None:
    from okeanos_spark.formats import get_format

    assert [get_format(name).schema for name in job.formats] == [job.schema] * len(job.formats)
