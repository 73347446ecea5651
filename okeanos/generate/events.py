"""Deterministic job-board events, with the counts they must aggregate to.

No public data set contains job-board impressions, clicks and applies, so
tests, the demo and benchmarks use events drawn here. :func:`generate_events`
writes them as JSON lines in the ``events`` format (one object per line,
see ``okeanos_spark.formats.events``) and returns an :class:`EventsSummary`
with the number of events per UTC hour and event type, counted while they
are drawn.

Stages:

1. build the pools from the seed: job postings with a Zipf-like popularity
   and their own click and apply rates, users with a home UTC offset;
2. per hour, draw visits until the hour has ``events_per_hour`` events. A
   visit shows a list of 5 to 10 postings (impressions). Some are clicked
   a few seconds to two minutes later, and some clicks lead to an apply
   within fifteen minutes. The funnel comes out near 100 : 7 : 1;
3. order the events by arrival time, the event time plus 0 to 20 seconds,
   so timestamps in a file step back by a few seconds now and then, as in
   real logs;
4. write the lines into ``files`` files of consecutive events, plain or gzip.

Each timestamp is written in the user's offset (``+00:00``, ``+02:00`` or
``-05:00``) with milliseconds. Every random choice comes from one
:class:`random.Random` seeded with a string, so the same arguments give the
same bytes on every run (on one Python version, because :mod:`random` does
not promise identical streams across versions). Gzip output has no file name
and a zero modification time in its header for the same reason.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from okeanos.exceptions import ConfigurationError
from okeanos.windows import HOUR, floor_to, parse_utc

logger = logging.getLogger(__name__)

EVENT_TYPES = ("impression", "click", "apply")
OFFSETS = (timedelta(0), timedelta(hours=2), timedelta(hours=-5))
_OFFSET_WEIGHTS = (5, 3, 2)
CHANNELS = ("search", "recommendation", "alert")
_CHANNEL_WEIGHTS = (6, 3, 1)
_ANONYMOUS_SHARE = 0.2
_MAX_ARRIVAL_DELAY_MS = 20_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class EventsSummary:
    """What :func:`generate_events` wrote.

    ``counts`` maps (start of the UTC hour, event type) to the number of
    events whose timestamp falls in that hour. A click or apply drawn late
    in one hour can fall in the next.
    """

    files: Tuple[str, ...]
    counts: Dict[Tuple[datetime, str], int]

    @property
    def total(self) -> int:
        """Number of events written."""
        return sum(self.counts.values())

    def total_of(self, event_type: str) -> int:
        """Number of events of ``event_type`` written."""
        return sum(count for (_, kind), count in self.counts.items() if kind == event_type)


def generate_events(
    out_dir: Union[str, Path],
    *,
    seed: int = 1,
    start: Union[str, datetime] = "2026-01-05T00:00:00Z",
    hours: int = 24,
    events_per_hour: int = 1000,
    jobs: int = 50,
    files: int = 1,
    compress: bool = False,
) -> EventsSummary:
    """Write job-board events as JSON lines and return what was written.

    Parameters
    ----------
    out_dir
        Directory for the files, created if missing. Files are named
        ``events-00000.jsonl`` (``.jsonl.gz`` with ``compress``); existing
        files of those names are replaced.
    seed
        Seed of every random choice.
    start
        First hour, as an aware UTC datetime or an ISO-8601 UTC string; it
        is floored to the hour.
    hours
        Number of hours to draw events for.
    events_per_hour
        Events drawn per hour.
    jobs
        Number of distinct job postings (``job-00001`` ...).
    files
        Number of files to spread the events over, in arrival order.
    compress
        Write gzip files.

    Raises
    ------
    ConfigurationError
        If a count is below 1.
    WindowError
        If ``start`` is not a UTC instant.
    """
    for name, value in (("hours", hours), ("events_per_hour", events_per_hour), ("jobs", jobs), ("files", files)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"{name} must be a whole number of at least 1, got {value!r}")
    first_hour = floor_to(parse_utc(start, "start") if isinstance(start, str) else start, "hour")

    rng = random.Random(f"okeanos-events:{seed}")
    pools = _Pools(rng, jobs=jobs, users=max(20, events_per_hour // 20))
    events: List[Tuple[int, int, Dict[str, object]]] = []
    counts: Dict[Tuple[datetime, str], int] = {}
    for index in range(hours):
        hour_start_ms = _millis(first_hour + index * HOUR)
        for millis, record in _draw_hour(rng, pools, hour_start_ms, events_per_hour, len(events)):
            arrival = millis + rng.randrange(_MAX_ARRIVAL_DELAY_MS + 1)
            events.append((arrival, len(events), record))
            key = (_hour_of(millis), str(record["event_type"]))
            counts[key] = counts.get(key, 0) + 1
    # NOTE: every event is held in memory until written (a few hundred bytes
    # each), which suits test and benchmark sizes up to some millions.
    events.sort(key=lambda item: (item[0], item[1]))

    written = _write(Path(out_dir), [json.dumps(record) for _, _, record in events], files, compress)
    logger.info("wrote %d events in %d file(s) to %s", len(events), len(written), out_dir)
    return EventsSummary(files=tuple(written), counts=dict(sorted(counts.items())))


class _Pools:
    """Job postings and users drawn once from the seed."""

    def __init__(self, rng: random.Random, *, jobs: int, users: int) -> None:
        self.job_ids = [f"job-{number:05d}" for number in range(1, jobs + 1)]
        # A few postings take most impressions, as on any listing site.
        self.job_weights = [1.0 / (rank**1.1) for rank in range(1, jobs + 1)]
        self.click_rates = [rng.uniform(0.03, 0.12) for _ in range(jobs)]
        self.apply_rates = [rng.uniform(0.08, 0.25) for _ in range(jobs)]
        self.user_offsets = rng.choices(OFFSETS, weights=_OFFSET_WEIGHTS, k=users)
        self.visits = 0


def _draw_hour(
    rng: random.Random, pools: _Pools, hour_start_ms: int, budget: int, first_id: int
) -> List[Tuple[int, Dict[str, object]]]:
    drawn: List[Tuple[int, Dict[str, object]]] = []
    while len(drawn) < budget:
        pools.visits += 1
        user = rng.randrange(len(pools.user_offsets))
        offset = pools.user_offsets[user]
        visit = {
            "user_id": None if rng.random() < _ANONYMOUS_SHARE else f"u-{user + 1:06d}",
            "session_id": f"s-{pools.visits:07d}",
            "channel": rng.choices(CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
        }
        shown_at = hour_start_ms + rng.randrange(3_600_000)
        listed = rng.choices(range(len(pools.job_ids)), weights=pools.job_weights, k=rng.randint(5, 10))
        visit_events: List[Tuple[int, str, int, Optional[int]]] = []
        for position, job in enumerate(listed, start=1):
            visit_events.append((shown_at + position * 40, "impression", job, position))
            if rng.random() < pools.click_rates[job]:
                clicked_at = shown_at + rng.randrange(2_000, 120_000)
                visit_events.append((clicked_at, "click", job, position))
                if rng.random() < pools.apply_rates[job]:
                    visit_events.append((clicked_at + rng.randrange(30_000, 900_000), "apply", job, None))
        for millis, kind, job, position in visit_events:
            if len(drawn) == budget:
                break
            record: Dict[str, object] = {
                "event_id": f"e{first_id + len(drawn):010d}",
                "timestamp": _format_time(millis, offset),
                "event_type": kind,
                "job_id": pools.job_ids[job],
                "user_id": visit["user_id"],
                "session_id": visit["session_id"],
                "channel": visit["channel"],
            }
            if position is not None:
                record["position"] = position
            drawn.append((millis, record))
    return drawn


def _write(out_dir: Path, lines: List[str], files: int, compress: bool) -> List[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if compress else ".jsonl"
    per_file, extra = divmod(len(lines), files)
    written: List[str] = []
    position = 0
    for index in range(files):
        size = per_file + (1 if index < extra else 0)
        text = "".join(line + "\n" for line in lines[position : position + size]).encode("utf-8")
        position += size
        path = out_dir / f"events-{index:05d}{suffix}"
        if compress:
            with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                packed.write(text)
        else:
            path.write_bytes(text)
        written.append(str(path))
    return written


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _hour_of(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis - millis % 3_600_000)


def _format_time(millis: int, offset: timedelta) -> str:
    local = (_EPOCH + timedelta(milliseconds=millis)).astimezone(timezone(offset))
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours_part, minutes_part = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}{sign}{hours_part:02d}:{minutes_part:02d}"
