"""The ``events`` format, and the format registry."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict

import pytest

from okeanos_spark.formats import FormatNotFoundError, format_names, get_format
from okeanos_spark.registry import APP_EVENT, WEB_REQUEST
from tests.spark_rows import by_line, lines_frame, utc

EVENTS = get_format("events")


def _event(**fields: Any) -> Dict[str, Any]:
    row = dict.fromkeys(("ts", "event_id", "event_type", "job_id", "user_id", "session_id", "channel", "position"))
    row.update(status="parsed", reason=None)
    row.update(fields)
    return row


def _rejected(reason: str) -> Dict[str, Any]:
    return _event(status="rejected", reason=reason)


EDGE_CASES = {
    '{"event_id": "e1", "timestamp": "2026-01-05T12:00:00.250+02:00", "event_type": "impression",'
    ' "job_id": "job-00001", "user_id": "u-000001", "session_id": "s-1", "channel": "search", "position": 3}': _event(
        ts=utc(2026, 1, 5, 10, 0, 0, 250000), event_id="e1", event_type="impression", job_id="job-00001",
        user_id="u-000001", session_id="s-1", channel="search", position=3,
    ),
    '{"timestamp": "2026-01-04T23:59:59-05:00", "event_type": "click", "job_id": "job-00002", "position": "7"}': _event(
        ts=utc(2026, 1, 5, 4, 59, 59), event_type="click", job_id="job-00002", position=7,
    ),
    '{"timestamp": "2026-01-05T10:00:00.123456Z", "event_type": "apply", "job_id": "job-00003",'
    ' "user_id": null, "extra": {"a": 1}}': _event(
        ts=utc(2026, 1, 5, 10, 0, 0, 123456), event_type="apply", job_id="job-00003",
    ),
    "": _rejected("empty_line"),
    "impression job-00001": _rejected("bad_json"),
    '"just a string"': _rejected("bad_json"),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "click"}': _rejected("missing_field"),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": null, "job_id": "job-1"}': _rejected("missing_field"),
    '{"timestamp": "2026-01-05 10:00:00+00:00", "event_type": "click", "job_id": "job-1"}': _rejected("bad_timestamp"),
    '{"timestamp": "2026-01-05T10:00:00", "event_type": "click", "job_id": "job-1"}': _rejected("bad_timestamp"),
    '{"timestamp": 1767607200, "event_type": "click", "job_id": "job-1"}': _rejected("bad_timestamp"),
    # Times outside [1970-01-01, 9000-01-01) UTC are rejected, not parsed.
    '{"timestamp": "9999-12-31T23:59:59Z", "event_type": "click", "job_id": "job-1"}': _rejected("bad_timestamp"),
    '{"timestamp": "0001-01-01T00:00:00Z", "event_type": "click", "job_id": "job-1"}': _rejected("bad_timestamp"),
    '{"timestamp": "1969-12-31T23:59:59.999999Z", "event_type": "click", "job_id": "job-1"}': _rejected(
        "bad_timestamp"
    ),
    '{"timestamp": "1970-01-01T00:00:00Z", "event_type": "click", "job_id": "job-1"}': _event(
        ts=utc(1970, 1, 1), event_type="click", job_id="job-1",
    ),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "view", "job_id": "job-1"}': _rejected("bad_event_type"),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "Click", "job_id": "job-1"}': _rejected("bad_event_type"),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "click", "job_id": "job-1", "position": "first"}': _rejected(
        "bad_position"
    ),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "click", "job_id": "job-1", "position": 1.5}': _rejected(
        "bad_position"
    ),
    '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "click", "job_id": "job-1", "position": -1}': _rejected(
        "bad_position"
    ),
}


@pytest.fixture(scope="module")
def edge(spark) -> Dict[str, Dict[str, Any]]:
    return by_line(EVENTS.parse_lines(lines_frame(spark, list(EDGE_CASES))))


@pytest.mark.spark
@pytest.mark.parametrize("line", list(EDGE_CASES), ids=range(len(EDGE_CASES)))
def test_events_edge_case(edge, line: str) -> None:
    assert edge[line] == EDGE_CASES[line]


@pytest.mark.spark
def test_events_column_types(spark) -> None:
    records = EVENTS.parse_lines(lines_frame(spark, list(EDGE_CASES)[:1]))
    types = dict(records.dtypes)
    assert (types["ts"], types["position"]) == ("timestamp", "int")


def test_format_names_all() -> None:
    assert {"combined", "nginx-json", "events"} <= set(format_names())


def test_format_names_by_schema() -> None:
    assert "events" not in format_names(WEB_REQUEST)


def test_format_schema_events() -> None:
    assert get_format("events").schema == APP_EVENT


def test_get_format_unknown() -> None:
    with pytest.raises(FormatNotFoundError, match="'syslog' is not registered; registered formats: .*combined"):
        get_format("syslog")


def test_registries_import_without_pyspark() -> None:
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from okeanos_spark.formats import format_names\n"
        "from okeanos_spark.registry import job_names\n"
        "print(len(format_names()), len(job_names()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.spark
def test_events_ansi_mode(spark) -> None:
    # The position is checked before the cast, so ANSI mode raises nothing.
    lines = ['{"timestamp": "2026-01-05T10:00:00Z", "event_type": "click", "job_id": "j", "position": 99999999999}']
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        [row] = by_line(EVENTS.parse_lines(lines_frame(spark, lines))).values()
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "false")
    assert row["reason"] == "bad_position"
