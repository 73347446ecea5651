"""Deterministic web access logs at volume, with the totals they must aggregate to.

:func:`generate_web_logs` writes hours of synthetic traffic in one of the
web formats (:data:`FORMATS`) as many files, plain or gzip, and returns a
:class:`WebLogSummary`: requests, bytes and exact distinct clients per UTC
hour and status, counted over the well-formed lines while they are written.
That summary is the expected result of ``http_status_hourly`` over the same
files, computed without any parser, so tests and benchmarks check a view
against it.

Stages, per file (files are independent, so they are written in parallel):

1. draw the events: time, client, request, status, bytes, referrer, from
   weighted pools built once from the seed (:mod:`okeanos.generate.web_pools`);
2. move a share of the events to an earlier hour (late data) and pick a
   share of lines to corrupt (malformed lines the parsers must reject);
3. render the lines in the format (:mod:`okeanos.generate.web_formats`);
4. count the well-formed events, then write the file in one buffered call.

Every random choice comes from :class:`random.Random` seeded with a string
made of the seed and the file's place, so the same spec gives the same bytes
on every run and with any number of worker processes (on one Python version:
:mod:`random` does not promise identical streams across versions).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

from okeanos.exceptions import ConfigurationError
from okeanos.generate import web_formats
from okeanos.generate.web_pools import WebPools, build_pools
from okeanos.windows import format_utc, parse_utc

logger = logging.getLogger(__name__)

FORMATS = tuple(web_formats.RENDERERS)
DEFAULT_START = "2015-05-17T00:00:00Z"

# Lines are joined and written in chunks of this many, so memory stays flat
# whatever the file size.
_WRITE_CHUNK_LINES = 50_000


@dataclass(frozen=True)
class WebLogSpec:
    """Specification of the web logs to generate. Equal specs give byte-identical files.

    Parameters
    ----------
    format
        One of :data:`FORMATS`.
    lines
        Log lines in total, malformed ones included (CloudFront's two header
        lines per file are not counted).
    start
        Start of the first hour, UTC. Defaults to 2015-05-17T00:00:00Z.
    hours
        Hours of traffic; each hour gets the same number of lines.
    files_per_hour
        Files each hour is split into, each covering an equal slice of it.
    gzip
        Write ``.gz`` files (not splittable by Spark) instead of plain text.
    seed
        Seed of every random choice.
    late_share
        Share of the lines of every hour after the first whose time is 1 to 3
        hours earlier than the file they are in.
    malformed_share
        Share of lines that are cut short or are not log lines at all.
    clients
        Size of the client address pool (Zipf-weighted, so a few clients make
        most requests and some addresses never appear).
    ipv6_share
        Share of the client pool with IPv6 addresses (ALB lines use IPv4 only).
    paths
        Size of the URL path pool (Zipf-weighted).
    """

    format: str = "combined"
    lines: int = 100_000
    start: datetime = field(default_factory=lambda: parse_utc(DEFAULT_START))
    hours: int = 24
    files_per_hour: int = 4
    gzip: bool = False
    seed: int = 1
    late_share: float = 0.02
    malformed_share: float = 0.001
    clients: int = 20_000
    ipv6_share: float = 0.15
    paths: int = 5_000

    def __post_init__(self) -> None:
        problems = []
        if self.format not in FORMATS:
            problems.append(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        for name in ("lines", "hours", "files_per_hour", "clients", "paths"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("late_share", "malformed_share", "ipv6_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1, got {value!r}")
        if isinstance(self.files_per_hour, int) and not 3600 % max(self.files_per_hour, 1) == 0:
            problems.append(f"files_per_hour must divide 3600 seconds evenly, got {self.files_per_hour}")
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            problems.append(f"start must be an aware UTC time, got {self.start!r}")
        elif self.start.minute or self.start.second or self.start.microsecond:
            problems.append(f"start must be a whole hour, got {format_utc(self.start)}")
        if problems:
            raise ConfigurationError("invalid web log spec: " + "; ".join(problems))

    @property
    def file_count(self) -> int:
        """Number of files written."""
        return self.hours * self.files_per_hour

    def cache_key(self) -> str:
        """Return a short name that differs whenever the generated bytes would."""
        start = self.start.strftime("%Y%m%dT%H")
        gz = "-gz" if self.gzip else ""
        return (
            f"{self.format}-{self.lines}-s{self.seed}-{start}-{self.hours}h"
            f"x{self.files_per_hour}-late{self.late_share:g}-bad{self.malformed_share:g}"
            f"-c{self.clients}-v6{self.ipv6_share:g}-p{self.paths}{gz}"
        )


@dataclass
class GroupTotals:
    """Totals of one (hour, status) group: what ``http_status_hourly`` reports."""

    requests: int = 0
    bytes: int = 0
    clients: int = 0


@dataclass
class WebLogSummary:
    """Summary of the generated files, counted while the lines are written.

    ``groups`` maps (hour start as ISO-8601 ``Z`` string, status code text) to
    the group's totals, over well-formed lines only. Bytes written as ``-``
    count as 0.
    """

    spec_key: str
    format: str
    files: int = 0
    lines: int = 0
    malformed_lines: int = 0
    late_lines: int = 0
    bytes_written: int = 0
    groups: Dict[Tuple[str, str], GroupTotals] = field(default_factory=dict)

    @property
    def events(self) -> int:
        """Number of well-formed lines, each one request."""
        return self.lines - self.malformed_lines

    def rows(self) -> List[Dict[str, object]]:
        """Return one dict per group (``bucket``, ``status``, metrics), sorted by bucket and status."""
        return [
            {"bucket": bucket, "status": status, "requests": t.requests, "bytes": t.bytes, "clients": t.clients}
            for (bucket, status), t in sorted(self.groups.items())
        ]

    def to_dict(self) -> Dict[str, object]:
        """Return a JSON-ready dict (groups as a list of rows)."""
        return {
            "spec_key": self.spec_key,
            "format": self.format,
            "files": self.files,
            "lines": self.lines,
            "malformed_lines": self.malformed_lines,
            "late_lines": self.late_lines,
            "bytes_written": self.bytes_written,
            "groups": self.rows(),
        }

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "WebLogSummary":
        """Rebuild a summary written by :meth:`to_dict`."""
        groups = {
            (row["bucket"], row["status"]): GroupTotals(row["requests"], row["bytes"], row["clients"])
            for row in data["groups"]  # type: ignore[union-attr]
        }
        fields = {k: v for k, v in data.items() if k != "groups"}
        return cls(groups=groups, **fields)  # type: ignore[arg-type]

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the summary as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "WebLogSummary":
        """Read a summary written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class _FileTotals:
    """Partial summary of one file; client sets are merged, not added."""

    lines: int = 0
    malformed: int = 0
    late: int = 0
    size: int = 0
    groups: Dict[Tuple[int, str], List] = field(default_factory=dict)


def generate_web_logs(
    spec: WebLogSpec,
    directory: "str | os.PathLike[str]",
    *,
    workers: Optional[int] = None,
) -> WebLogSummary:
    """Write the files of ``spec`` into ``directory`` and return their summary.

    Parameters
    ----------
    spec
        What to generate.
    directory
        Output directory, created if missing. Files of the same name are
        overwritten; other files in it are left alone.
    workers
        Processes writing files in parallel. Defaults to the number of CPUs,
        at most 4. The output does not depend on it.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    jobs = [(spec, str(out), index) for index in range(spec.file_count)]

    if workers <= 1 or len(jobs) == 1:
        parts: Iterator[_FileTotals] = (_write_file(*job) for job in jobs)
        return _merge(spec, parts)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return _merge(spec, pool.map(_write_file, *zip(*jobs), chunksize=1))


def file_name(spec: WebLogSpec, index: int) -> str:
    """Return the name of file ``index`` (0-based), in the naming style of the format's source."""
    hour, part = divmod(index, spec.files_per_hour)
    slice_start = spec.start + timedelta(hours=hour, seconds=part * 3600 // spec.files_per_hour)
    name = web_formats.file_name(spec.format, slice_start, index)
    return name + ".gz" if spec.gzip else name


def _merge(spec: WebLogSpec, parts) -> WebLogSummary:
    summary = WebLogSummary(spec_key=spec.cache_key(), format=spec.format)
    clients: Dict[Tuple[int, str], Set[int]] = {}
    for part in parts:
        summary.files += 1
        summary.lines += part.lines
        summary.malformed_lines += part.malformed
        summary.late_lines += part.late
        summary.bytes_written += part.size
        for key, (requests, size, seen) in part.groups.items():
            totals = summary.groups.setdefault(_group_key(spec, key), GroupTotals())
            totals.requests += requests
            totals.bytes += size
            clients.setdefault(key, set()).update(seen)
    for key, seen in clients.items():
        summary.groups[_group_key(spec, key)].clients = len(seen)
    logger.info("generated %d lines in %d files (%s)", summary.lines, summary.files, summary.spec_key)
    return summary


def _group_key(spec: WebLogSpec, key: Tuple[int, str]) -> Tuple[str, str]:
    epoch_hour, status = key
    return format_utc(datetime.fromtimestamp(epoch_hour * 3600, timezone.utc)), status


_POOLS: Dict[Tuple, WebPools] = {}


def _pools_for(spec: WebLogSpec) -> WebPools:
    # Built once per process and spec; the pools depend only on these fields.
    # NOTE: ALB lines get IPv4 clients only, because how ALB writes an IPv6
    # client with its port is not shown in the AWS examples this follows.
    ipv6_share = 0.0 if spec.format == "alb" else spec.ipv6_share
    key = (spec.seed, spec.clients, ipv6_share, spec.paths)
    if key not in _POOLS:
        _POOLS.clear()
        _POOLS[key] = build_pools(seed=spec.seed, clients=spec.clients, ipv6_share=ipv6_share, paths=spec.paths)
    return _POOLS[key]


def _lines_in_file(spec: WebLogSpec, index: int) -> int:
    base, extra = divmod(spec.lines, spec.file_count)
    return base + (1 if index < extra else 0)


def _write_file(spec: WebLogSpec, directory: str, index: int) -> _FileTotals:
    pools = _pools_for(spec)
    count = _lines_in_file(spec, index)
    rng = random.Random(f"okeanos-web:{spec.seed}:{spec.format}:{index}")
    hour, part = divmod(index, spec.files_per_hour)
    span = 3600 // spec.files_per_hour
    slice_start = int(spec.start.timestamp()) + hour * 3600 + part * span

    events = pools.draw(rng, count, slice_start, span)
    late = _make_late(rng, events.seconds, hour, spec.late_share, slice_start)
    malformed = _pick(rng, count, spec.malformed_share)

    renderer = web_formats.RENDERERS[spec.format]
    lines = renderer(events, pools, rng)
    for i in malformed:
        lines[i] = web_formats.corrupt(lines[i], rng)

    totals = _FileTotals(lines=count, malformed=len(malformed), late=len(late - malformed))
    totals.groups = _count(events, pools, malformed, spec.format)

    path = Path(directory) / file_name(spec, index)
    header = web_formats.header(spec.format)
    totals.size = _write(path, header, lines, spec.gzip)
    return totals


def _make_late(rng: random.Random, seconds: List[int], hour: int, share: float, slice_start: int) -> Set[int]:
    """Move a share of the events 1 to 3 hours back, keeping the second within its hour random."""
    if hour == 0 or share <= 0:
        return set()
    chosen = _pick(rng, len(seconds), share)
    hour_start = slice_start - slice_start % 3600
    for i in chosen:
        back = rng.randint(1, min(3, hour))
        seconds[i] = hour_start - back * 3600 + rng.randrange(3600)
    return chosen


def _pick(rng: random.Random, count: int, share: float) -> Set[int]:
    expected = count * share
    whole = int(expected)
    chosen = whole + (1 if rng.random() < expected - whole else 0)
    return set(rng.sample(range(count), min(chosen, count)))


def _count(events, pools: WebPools, malformed: Set[int], fmt: str) -> Dict[Tuple[int, str], List]:
    groups: Dict[Tuple[int, str], List] = {}
    status_text = pools.status_text
    for i, (second, client, status, size) in enumerate(
        zip(events.seconds, events.clients, events.statuses, events.sizes)
    ):
        if i in malformed:
            continue
        key = (second // 3600, status_text[status])
        group = groups.get(key)
        if group is None:
            group = groups[key] = [0, 0, set()]
        group[0] += 1
        group[1] += size
        group[2].add(client)
    return groups


def _write(path: Path, header: str, lines: List[str], compress: bool) -> int:
    tmp = path.with_name(path.name + ".tmp")
    if compress:
        # mtime=0 keeps the gzip header, and so the bytes, independent of the clock.
        raw = open(tmp, "wb")
        handle = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
    else:
        raw = handle = open(tmp, "wb", buffering=1 << 20)
    try:
        if header:
            handle.write(header.encode("utf-8"))
        for start in range(0, len(lines), _WRITE_CHUNK_LINES):
            chunk = lines[start:start + _WRITE_CHUNK_LINES]
            handle.write(("\n".join(chunk) + "\n").encode("utf-8"))
    finally:
        handle.close()
        if raw is not handle:
            raw.close()
    os.replace(tmp, path)
    return path.stat().st_size

