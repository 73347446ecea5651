"""Helpers for Spark tests: build line DataFrames and read rows back with UTC times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)


def as_utc(value: Any) -> Any:
    """Turn a naive datetime from ``collect()`` into an aware UTC datetime.

    PySpark returns a timestamp as a naive datetime in the local time zone
    of the Python process, whatever the session time zone. Other values
    pass through unchanged.
    """
    if isinstance(value, datetime) and value.tzinfo is None:
        return datetime.fromtimestamp(value.timestamp(), timezone.utc)
    return value


def rows(df: Any) -> List[Dict[str, Any]]:
    """Collect ``df`` as dicts, with timestamps as aware UTC datetimes."""
    return [{key: as_utc(value) for key, value in row.asDict().items()} for row in df.collect()]


def lines_frame(spark: Any, lines: Iterable[str], file: str = "memory.log") -> Any:
    """Return a DataFrame of ``file`` and ``line`` columns, as ``InputFormat.parse_lines`` takes."""
    return spark.createDataFrame([(file, line) for line in lines], "file string, line string")


def by_line(records: Any) -> Dict[str, Dict[str, Any]]:
    """Collect parsed records keyed by their ``line``, without the ``file`` and ``line`` columns."""
    result = {}
    for row in rows(records):
        line = row.pop("line")
        row.pop("file")
        result[line] = row
    return result
