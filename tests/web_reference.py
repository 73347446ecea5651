"""An independent reading of the real web logs, in plain Python, for comparing views.

Parses the Apache combined log and the Nginx JSON log with ``re``, ``json``
and ``datetime`` only, and aggregates them the way the web jobs are
specified, so a test can compare a view with numbers that no okeanos code
computed.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
APACHE_LOG = REAL_DATA / "apache_combined_2015-05-17_18.log"
NGINX_LOG = REAL_DATA / "nginx_json_2015-05-17_18.jsonl"

_COMBINED = re.compile(
    r'^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\S+) (\S+)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?'
)


@dataclass(frozen=True)
class Request:
    """The fields of one request that the web jobs aggregate."""

    ts: datetime
    client: str
    path: Optional[str]
    status: str
    bytes: int


def parse_time(text: str) -> datetime:
    """Parse ``17/May/2015:10:05:03 +0000`` into an aware UTC datetime."""
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc)


def request_path(request: str) -> Optional[str]:
    """Return the path of a request line ``METHOD TARGET PROTOCOL``: the target up to ``?``."""
    parts = request.split(" ")
    if len(parts) < 2:
        return None
    if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
        target = " ".join(parts[1:-1])
    else:
        target = " ".join(parts[1:])
    return target.split("?", 1)[0]


def read_combined(path: Path) -> List[Request]:
    """Read an Apache combined log; lines that do not match are left out."""
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _COMBINED.match(line)
        if not match:
            continue
        host, time_text, request, status, size = match.groups()
        requests.append(Request(
            ts=parse_time(time_text),
            client=host,
            path=request_path(request),
            status=status,
            bytes=0 if size == "-" else int(size),
        ))
    return requests


def read_nginx_json(path: Path) -> List[Request]:
    """Read an Nginx JSON-lines log (``time``, ``remote_ip``, ``request``, ``response``, ``bytes``)."""
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        requests.append(Request(
            ts=parse_time(entry["time"]),
            client=entry["remote_ip"],
            path=request_path(entry["request"]),
            status=str(entry["response"]),
            bytes=int(entry["bytes"]),
        ))
    return requests


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def in_window(requests: Iterable[Request], start: datetime, end: datetime) -> List[Request]:
    """Keep the requests with ``start <= ts < end``."""
    return [request for request in requests if start <= request.ts < end]


def status_hourly(requests: Iterable[Request], source: str) -> List[Dict[str, object]]:
    """Compute http_status_hourly: requests, bytes and distinct clients per hour and status."""
    from okeanos_spark.registry import get_job

    (status_field,) = get_job("http_status_hourly").dimensions
    groups: Dict[Tuple[datetime, str], List[Request]] = defaultdict(list)
    for request in requests:
        groups[(floor_hour(request.ts), request.status)].append(request)
    rows = []
    for (bucket, status), members in sorted(groups.items()):
        rows.append({
            "bucket": bucket_text(bucket),
            "source": source,
            status_field: status,
            "requests": len(members),
            "bytes": sum(member.bytes for member in members),
            "clients": len({member.client for member in members}),
        })
    return rows


def paths_daily(requests: Iterable[Request], source: str) -> List[Dict[str, object]]:
    """Compute top_paths_daily: requests and bytes per day and path; requests without a path are left out."""
    groups: Dict[Tuple[datetime, str], List[Request]] = defaultdict(list)
    for request in requests:
        if request.path is not None:
            groups[(floor_day(request.ts), request.path)].append(request)
    rows = []
    for (bucket, path), members in sorted(groups.items()):
        rows.append({
            "bucket": bucket_text(bucket),
            "source": source,
            "path": path,
            "requests": len(members),
            "bytes": sum(member.bytes for member in members),
        })
    return rows


def hours(first: str, count: int) -> Tuple[datetime, datetime]:
    """Return ``[first, first + count hours)`` for an ISO-8601 UTC ``first``."""
    start = datetime.strptime(first, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return start, start + timedelta(hours=count)
