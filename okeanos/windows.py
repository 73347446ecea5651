"""UTC time windows and the buckets they touch.

A window is half-open, ``[start, end)``, and always in UTC. A run recomputes
every bucket that its window touches, so the span actually aggregated is the
window widened outwards to whole buckets (see :func:`bucket_span`).

This module is shared by the CLI, the Lambda handler and the Spark job, so it
imports nothing outside the standard library and runs on Python 3.9 (the
default interpreter of EMR 7 clusters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional

from okeanos.exceptions import WindowError

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRANULARITIES = {"hour": HOUR, "day": DAY}

# The instants okeanos handles. Before 1970 there are no real web logs, and
# bucket arithmetic near year 9999 overflows datetime, so both ends are
# rejected where a time enters: messages, options and parsed log lines.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)

# ISO-8601 with an explicit UTC designator: "Z", "+00:00" or "+0000". RFC 3339
# gives "-00:00" the meaning "offset unknown", so it is not accepted as UTC.
_UTC_SUFFIX = re.compile(r"(Z|\+00:?00)$")


def parse_utc(text: str, field: str = "time") -> datetime:
    """Parse an ISO-8601 instant that is explicitly in UTC.

    Parameters
    ----------
    text
        For example ``2015-05-17T10:00:00Z`` or ``2015-05-17T10:00:00+00:00``.
        A date alone (``2015-05-17``) means midnight UTC of that day.
    field
        Name of the option or message field, used in the error message.

    Raises
    ------
    WindowError
        If the text is not ISO-8601 or carries no UTC designator.
    """
    if not isinstance(text, str):
        raise WindowError(f"{field}: expected an ISO-8601 UTC string, got {text!r}")
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00Z"
    if not _UTC_SUFFIX.search(value):
        raise WindowError(
            f"{field}: {text!r} is not in UTC; write it with a trailing 'Z', "
            "for example 2015-05-17T10:00:00Z"
        )
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]0000$", value):
        value = value[:-5] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WindowError(
            f"{field}: {text!r} is not an ISO-8601 time such as 2015-05-17T10:00:00Z"
        ) from exc
    if parsed.utcoffset() != timedelta(0):
        raise WindowError(f"{field}: {text!r} is not in UTC")
    parsed = parsed.astimezone(timezone.utc)
    _check_range(parsed, field, text)
    return parsed


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC ending in ``Z`` (second precision)."""
    if moment.tzinfo is None:
        raise WindowError(f"naive datetime {moment!r}: okeanos only handles aware UTC times")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(timezone.utc)


def floor_to(moment: datetime, granularity: str) -> datetime:
    """Return the start of the ``hour`` or ``day`` bucket that contains ``moment``."""
    step = _step(granularity)
    moment = moment.astimezone(timezone.utc)
    if step == DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_to(moment: datetime, granularity: str) -> datetime:
    """Return the first bucket boundary at or after ``moment``."""
    floor = floor_to(moment, granularity)
    return floor if floor == moment else floor + _step(granularity)


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() != timedelta(0):
                raise WindowError(f"window {name} {value!r} is not an aware UTC time")
        _check_range(self.start, "window start")
        _check_range(self.end, "window end")
        if self.start >= self.end:
            raise WindowError(
                f"window is empty or reversed: from {format_utc(self.start)} is not "
                f"before to {format_utc(self.end)}"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> "Window":
        """Build a window from two ISO-8601 UTC strings (the ``from`` and ``to`` fields)."""
        return cls(parse_utc(start, "from"), parse_utc(end, "to"))

    @classmethod
    def last_n_hours(cls, runasof: datetime, hours: int) -> "Window":
        """Return ``[runasof - hours, runasof)``, the "last N hours as of T" window."""
        if not isinstance(hours, int) or isinstance(hours, bool) or hours < 1:
            raise WindowError(f"lastnhours: expected a whole number of hours >= 1, got {hours!r}")
        try:
            start = runasof - timedelta(hours=hours)
        except OverflowError:
            start = EARLIEST - timedelta(hours=1)  # reported as out of range below
        return cls(start, runasof)

    def to_dict(self) -> dict:
        """Return the window as ``{"from": ..., "to": ...}`` with ``Z`` strings."""
        return {"from": format_utc(self.start), "to": format_utc(self.end)}

    def __str__(self) -> str:
        return f"[{format_utc(self.start)}, {format_utc(self.end)})"


def bucket_span(window: Window, granularity: str) -> Window:
    """Widen ``window`` to whole buckets: every bucket it touches, in full."""
    return Window(floor_to(window.start, granularity), ceil_to(window.end, granularity))


def iter_buckets(window: Window, granularity: str) -> Iterator[datetime]:
    """Yield the start of every bucket that ``window`` touches, in order."""
    span = bucket_span(window, granularity)
    step = _step(granularity)
    current = span.start
    while current < span.end:
        yield current
        current += step


def split_window(window: Window, chunk: timedelta) -> list:
    """Split ``window`` into consecutive windows of at most ``chunk`` each."""
    if chunk <= timedelta(0):
        raise WindowError(f"chunk must be positive, got {chunk}")
    parts = []
    start = window.start
    while start < window.end:
        end = min(start + chunk, window.end)
        parts.append(Window(start, end))
        start = end
    return parts


def parse_duration(text: str, field: str = "duration") -> timedelta:
    """Parse a duration such as ``90s``, ``15m``, ``6h`` or ``1d``."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", str(text))
    if not match or int(match.group(1)) == 0:
        raise WindowError(
            f"{field}: {text!r} is not a positive duration; use a number and a unit "
            "(s, m, h or d), for example 1d or 6h"
        )
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    try:
        return timedelta(**{unit: int(match.group(1))})
    except OverflowError as exc:
        raise WindowError(f"{field}: {text!r} is too long; use a duration under 999999999 days") from exc


def _check_range(moment: datetime, field: str, text: Optional[str] = None) -> None:
    if not EARLIEST <= moment < LATEST:
        shown = text if text is not None else moment.isoformat()
        raise WindowError(
            f"{field}: {shown!r} is outside the supported range "
            f"[{format_utc(EARLIEST)}, {format_utc(LATEST)})"
        )


def _step(granularity: str) -> timedelta:
    step: Optional[timedelta] = GRANULARITIES.get(granularity)
    if step is None:
        raise WindowError(
            f"granularity {granularity!r} is not supported; use one of {sorted(GRANULARITIES)}"
        )
    return step
