"""Line accounting of a run: every line read is parsed, rejected or skipped, per file.

Stages, in the order a run uses them:

1. :func:`count_lines` counts the records of a format's ``read`` per file,
   status and reason, in one Spark aggregation, so that for each file and
   for the run ``lines_read == parsed + rejected + skipped``; the same
   aggregation finds the first and last event time;
2. :func:`sample_rejects` collects a bounded sample of rejected lines (100
   per run and 10 per file by default), each cut to 2 KiB;
3. :func:`find_line_numbers` gives each sampled line its line number.
   ``spark.read.text`` keeps no line numbers, so the driver reads again only
   the files that have sampled rejects, line by line, and stops at the last
   sampled line of each. Lines are matched by the SHA-256 of their bytes,
   which Spark computes from the same bytes, so invalid UTF-8 matches too
   (except in ``cloudfront``, see its ``read_lines``);
4. :func:`write_rejects` writes the sample as JSON lines to
   ``<state_dir>/rejects/<run_id>/rejects.jsonl`` locally, or under an S3
   prefix on AWS;
5. :func:`check_reject_ratio` fails the run with
   :class:`RejectRatioExceededError` when more than ``max_ratio`` of the
   lines that are not skipped were rejected (0.05 by default, and 1.0
   disables the check).

:class:`InputPolicy` bundles these settings, and the corrupt-file policy of
:mod:`okeanos_spark.file_checks`, for a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from okeanos.exceptions import ConfigurationError, OkeanosError

logger = logging.getLogger(__name__)

PARSED = "parsed"
REJECTED = "rejected"
SKIPPED = "skipped"

DEFAULT_MAX_REJECT_RATIO = 0.05
DEFAULT_REJECTS_PER_RUN = 100
DEFAULT_REJECTS_PER_FILE = 10
MAX_REJECT_LINE_BYTES = 2048
MAX_REJECT_RATIO_ENV = "OKEANOS_MAX_REJECT_RATIO"
ON_CORRUPT_ENV = "OKEANOS_ON_CORRUPT"
REJECTS_LOCATION_ENV = "OKEANOS_REJECTS_URI"
REJECTS_FILE_NAME = "rejects.jsonl"

_BOM = "\ufeff".encode("utf-8")


class RejectRatioExceededError(OkeanosError):
    """More lines were rejected than the run allows.

    ``ratio`` is rejected / (parsed + rejected), and ``max_ratio`` is the limit.
    """

    def __init__(self, message: str, ratio: float, max_ratio: float) -> None:
        super().__init__(message)
        self.ratio = ratio
        self.max_ratio = max_ratio


@dataclass(frozen=True)
class InputPolicy:
    """Settings for the bad input of a run: rejected lines, corrupt files, the rejects sample.

    Each setting resolves as: the value given here, then its environment
    variable, then the default.

    Attributes
    ----------
    max_reject_ratio
        Largest allowed rejected / (parsed + rejected); ``OKEANOS_MAX_REJECT_RATIO``,
        default 0.05. 1.0 disables the check.
    on_corrupt
        ``"fail"`` or ``"skip"`` for corrupt gzip files (see
        :func:`okeanos_spark.file_checks.check_files`); ``OKEANOS_ON_CORRUPT``,
        default ``"fail"``.
    rejects_location
        Local directory or ``s3://`` prefix of the rejects sample;
        ``OKEANOS_REJECTS_URI``, default ``<state_dir>/rejects``.
    rejects_per_run, rejects_per_file
        Bounds of the rejects sample; default 100 and 10.
    """

    max_reject_ratio: Optional[float] = None
    on_corrupt: Optional[str] = None
    rejects_location: Optional[str] = None
    rejects_per_run: int = DEFAULT_REJECTS_PER_RUN
    rejects_per_file: int = DEFAULT_REJECTS_PER_FILE

    def resolve(self) -> "InputPolicy":
        """Return a copy with every setting resolved, validating each.

        Raises
        ------
        ConfigurationError
            If a setting is invalid; the message names it.
        """
        from okeanos_spark.file_checks import ON_CORRUPT_CHOICES, ON_CORRUPT_FAIL

        on_corrupt = self.on_corrupt or os.environ.get(ON_CORRUPT_ENV) or ON_CORRUPT_FAIL
        if on_corrupt not in ON_CORRUPT_CHOICES:
            raise ConfigurationError(
                f"on_corrupt: {on_corrupt!r} is invalid; use one of {', '.join(ON_CORRUPT_CHOICES)}"
            )
        if self.rejects_per_run < 0 or self.rejects_per_file < 0:
            raise ConfigurationError(
                f"rejects sample sizes must be >= 0, got rejects_per_run={self.rejects_per_run}, "
                f"rejects_per_file={self.rejects_per_file}"
            )
        location = self.rejects_location or os.environ.get(REJECTS_LOCATION_ENV)
        if not location:
            from okeanos import settings

            location = str(settings.state_dir() / "rejects")
        return InputPolicy(
            max_reject_ratio=max_reject_ratio(self.max_reject_ratio),
            on_corrupt=on_corrupt,
            rejects_location=location,
            rejects_per_run=self.rejects_per_run,
            rejects_per_file=self.rejects_per_file,
        )


@dataclass
class LineCounts:
    """Counts of the lines of one file, or of a whole run."""

    parsed: int = 0
    rejected: int = 0
    skipped: int = 0
    rejected_by_reason: Dict[str, int] = field(default_factory=dict)
    skipped_by_reason: Dict[str, int] = field(default_factory=dict)

    @property
    def lines_read(self) -> int:
        """Every line read: parsed + rejected + skipped."""
        return self.parsed + self.rejected + self.skipped

    @property
    def reject_ratio(self) -> float:
        """Rejected lines over the lines that are requests or should be (skipped ones excluded)."""
        considered = self.parsed + self.rejected
        return self.rejected / considered if considered else 0.0

    def add(self, status: str, reason: Optional[str], lines: int) -> None:
        """Add ``lines`` lines of ``status`` (``parsed``, ``rejected``, ``skipped``)."""
        if status == PARSED:
            self.parsed += lines
        elif status == REJECTED:
            self.rejected += lines
            key = reason or "unknown"
            self.rejected_by_reason[key] = self.rejected_by_reason.get(key, 0) + lines
        elif status == SKIPPED:
            self.skipped += lines
            key = reason or "format_header"
            self.skipped_by_reason[key] = self.skipped_by_reason.get(key, 0) + lines
        else:
            raise ValueError(f"line status {status!r} is not parsed, rejected or skipped")

    def to_dict(self) -> Dict[str, Any]:
        """Return the counts as the run summary stores them."""
        return {
            "lines_read": self.lines_read,
            "lines_parsed": self.parsed,
            "lines_rejected": self.rejected,
            "lines_skipped": self.skipped,
            "rejected_by_reason": _reason_list(self.rejected_by_reason),
            "skipped_by_reason": _reason_list(self.skipped_by_reason),
        }


@dataclass
class LineAccounting:
    """The line counts of a run, in total and per file, and the times of its events.

    ``first_event`` and ``last_event`` are the earliest and latest ``ts`` of
    the parsed lines, in seconds since the epoch (None without parsed
    lines). ``events_inside`` is the number of parsed lines in the range
    passed to :func:`count_lines`, or None when no range was passed.
    """

    total: LineCounts = field(default_factory=LineCounts)
    per_file: Dict[str, LineCounts] = field(default_factory=dict)
    first_event: Optional[int] = None
    last_event: Optional[int] = None
    events_inside: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        """Return the totals and a list of per-file counts, sorted by file."""
        document = self.total.to_dict()
        document["per_file"] = [
            dict(file=name, **counts.to_dict()) for name, counts in sorted(self.per_file.items())
        ]
        return document


@dataclass(frozen=True)
class RejectedLine:
    """One sampled rejected line: where it is, why it was rejected, and its text (cut to 2 KiB)."""

    file: str
    reason: str
    line: str
    sha256: str
    line_number: Optional[int] = None
    #: Bytes of the whole line; lines of another length are not hashed when looking for it.
    byte_length: Optional[int] = None

    def to_json(self) -> str:
        """Return the JSON line written to the rejects file."""
        record = {
            "file": self.file,
            "line_number": self.line_number,
            "reason": self.reason,
            "line": self.line,
        }
        return json.dumps(record, ensure_ascii=False)


def count_lines(records: Any, *, inside: Optional[Tuple[int, int]] = None) -> LineAccounting:
    """Count the records of a format's ``read`` per file, ``status`` and ``reason``.

    The same Spark aggregation finds the first and last event time, and, when
    ``inside`` gives a half-open range ``[start, end)`` of epoch seconds, the
    number of parsed lines inside it. Its result has one row per file and
    outcome, so it stays small on the driver.
    """
    from pyspark.sql import functions as F

    # Epoch seconds, because PySpark returns timestamps as naive datetimes
    # in the Python process's local time zone.
    time = F.col("ts").cast("long")
    aggregates = [F.count(F.lit(1)).alias("lines"), F.min(time).alias("first"), F.max(time).alias("last")]
    if inside is not None:
        start, end = inside
        aggregates.append(F.count(F.when((time >= start) & (time < end), 1)).alias("inside"))
    rows = records.groupBy("file", "status", "reason").agg(*aggregates).collect()

    accounting = LineAccounting(events_inside=0 if inside is not None else None)
    for row in rows:
        lines = int(row["lines"])
        accounting.total.add(row["status"], row["reason"], lines)
        counts = accounting.per_file.setdefault(row["file"], LineCounts())
        counts.add(row["status"], row["reason"], lines)
        if row["status"] != PARSED or row["first"] is None:
            continue
        first, last = int(row["first"]), int(row["last"])
        accounting.first_event = first if accounting.first_event is None else min(accounting.first_event, first)
        accounting.last_event = last if accounting.last_event is None else max(accounting.last_event, last)
        if inside is not None:
            accounting.events_inside += int(row["inside"])
    return accounting


def sample_rejects(
    records: Any,
    *,
    per_run: int = DEFAULT_REJECTS_PER_RUN,
    per_file: int = DEFAULT_REJECTS_PER_FILE,
) -> List[RejectedLine]:
    """Collect at most ``per_file`` rejected lines of each file, ``per_run`` in all.

    Files are taken in name order, and lines in the order Spark reads them.
    Each line is cut to 2 KiB of UTF-8 on the executors, so a sample of 1 MB
    lines stays small. Its SHA-256 is of the whole line.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if per_run < 0 or per_file < 0:
        raise ConfigurationError(
            f"rejects sample sizes must be >= 0, got per_run={per_run}, per_file={per_file}"
        )
    if per_run == 0 or per_file == 0:
        return []
    rejected = records.filter(F.col("status") == REJECTED).select(
        "file",
        "reason",
        # 2048 characters are at most 8 KiB, and the driver cuts to 2 KiB.
        F.substring("line", 1, MAX_REJECT_LINE_BYTES).alias("line"),
        F.sha2(F.col("line").cast("binary"), 256).alias("sha256"),
        F.octet_length(F.col("line").cast("binary")).alias("byte_length"),
        F.monotonically_increasing_id().alias("order"),
    )
    ranked = rejected.withColumn(
        "rank", F.row_number().over(Window.partitionBy("file").orderBy("order"))
    )
    rows = (
        ranked.filter(F.col("rank") <= per_file)
        .orderBy("file", "rank")
        .limit(per_run)
        .collect()
    )
    return [
        RejectedLine(
            file=row["file"],
            reason=row["reason"] or "unknown",
            line=_cut_utf8(row["line"] or "", MAX_REJECT_LINE_BYTES),
            sha256=row["sha256"],
            byte_length=row["byte_length"],
        )
        for row in rows
    ]


def find_line_numbers(
    samples: Sequence[RejectedLine],
    *,
    s3_client: Optional[Any] = None,
) -> List[RejectedLine]:
    """Return ``samples`` with their 1-based line numbers, found by reading their files again.

    Only the files that have samples are read, each up to its last sampled
    line, and only lines of a sampled line's length are hashed. When a
    line's text occurs several times in a file, its samples take the first
    occurrences in order. A line not found (the file changed
    since it was read) keeps a line number of None, with a warning.
    """
    from okeanos_spark.file_checks import InputFileError, open_input

    by_file: Dict[str, List[int]] = {}
    for index, sample in enumerate(samples):
        by_file.setdefault(sample.file, []).append(index)

    numbers: Dict[int, int] = {}
    for name, indexes in by_file.items():
        pending: Dict[str, List[int]] = {}
        lengths = set()
        for index in indexes:
            pending.setdefault(samples[index].sha256, []).append(index)
            lengths.add(samples[index].byte_length)
        # A sample without a length (made elsewhere) makes every line a candidate.
        every_line = None in lengths
        try:
            with open_input(_local_path(name), s3_client=s3_client) as stream:
                for number, line in enumerate(_lines(stream), start=1):
                    if not every_line and len(line) not in lengths:
                        continue
                    waiting = pending.get(hashlib.sha256(line).hexdigest())
                    if waiting:
                        numbers[waiting.pop(0)] = number
                        if not any(pending.values()):
                            break
        except (InputFileError, OSError, EOFError, zlib.error) as exc:
            # The file changed or went away after Spark read it: the sample
            # keeps its lines, without numbers, rather than failing the run.
            logger.warning("cannot read %s again to number its rejected lines: %s", name, exc)
        missing = sum(len(left) for left in pending.values())
        if missing:
            logger.warning("%d sampled rejected line(s) not found again in %s", missing, name)

    return [
        RejectedLine(s.file, s.reason, s.line, s.sha256, numbers.get(index), s.byte_length)
        for index, s in enumerate(samples)
    ]


def write_rejects(
    samples: Iterable[RejectedLine],
    *,
    run_id: str,
    location: Optional[str] = None,
    s3_client: Optional[Any] = None,
) -> str:
    """Write the sampled rejects as JSON lines and return where they were written.

    Parameters
    ----------
    samples
        The sampled lines, with line numbers (see :func:`find_line_numbers`).
    run_id
        The run's id, the last part of the location.
    location
        A local directory or an ``s3://bucket/prefix``; the file is
        ``<location>/<run_id>/rejects.jsonl``. ``<state_dir>/rejects`` (see
        :func:`okeanos.settings.state_dir`) if not given.
    s3_client
        boto3 S3 client for an ``s3://`` location; a new one if not given.
    """
    body = "".join(sample.to_json() + "\n" for sample in samples).encode("utf-8")
    if location is None:
        from okeanos import settings

        location = str(settings.state_dir() / "rejects")

    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        key = "/".join(part for part in (prefix.strip("/"), run_id, REJECTS_FILE_NAME) if part)
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        s3_client.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )
        return f"s3://{bucket}/{key}"

    directory = Path(location) / run_id
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / REJECTS_FILE_NAME
    path.write_bytes(body)
    return str(path)


def max_reject_ratio(explicit: Optional[float] = None) -> float:
    """Resolve the reject-ratio limit: ``explicit``, else ``OKEANOS_MAX_REJECT_RATIO``, else 0.05.

    Raises
    ------
    ConfigurationError
        If the value is not a number from 0 to 1.
    """
    value: Any = explicit
    source = "max_reject_ratio"
    if value is None and os.environ.get(MAX_REJECT_RATIO_ENV):
        value, source = os.environ[MAX_REJECT_RATIO_ENV], MAX_REJECT_RATIO_ENV
    if value is None:
        return DEFAULT_MAX_REJECT_RATIO
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(
            f"{source}: {value!r} is invalid; use a fraction from 0 to 1 (1 disables the check)"
        )
    return ratio


def check_reject_ratio(
    counts: LineCounts,
    *,
    max_ratio: Optional[float] = None,
    rejects_location: Optional[str] = None,
) -> None:
    """Raise :class:`RejectRatioExceededError` when ``counts`` reject more than ``max_ratio``.

    ``max_ratio`` resolves as :func:`max_reject_ratio` describes, and 1.0
    never raises because a ratio cannot exceed 1. ``rejects_location`` is named in the
    message when given.
    """
    limit = max_reject_ratio(max_ratio)
    ratio = counts.reject_ratio
    if ratio <= limit:
        return
    reasons = ", ".join(
        f"{reason}: {lines}"
        for reason, lines in sorted(counts.rejected_by_reason.items(), key=lambda item: -item[1])
    )
    where = f"; sampled lines are in {rejects_location}" if rejects_location else ""
    raise RejectRatioExceededError(
        f"{counts.rejected} of {counts.parsed + counts.rejected} lines were rejected "
        f"({ratio:.2%}), more than the limit of {limit:.2%} ({reasons}){where}. Check the "
        f"input format, or raise the limit with {MAX_REJECT_RATIO_ENV}",
        ratio,
        limit,
    )


def _lines(stream: Any) -> Iterable[bytes]:
    """Yield the bytes of each line, split as ``spark.read.text`` splits lines.

    Hadoop's LineReader ends a line at ``\\n``, ``\\r`` or ``\\r\\n``. The
    byte-order mark at the start of a file is removed, as the formats remove it.
    """
    first = True
    carry = b""
    pending_cr = False
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        if pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        pending_cr = False
        data = carry + chunk
        parts = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        if data.endswith(b"\r"):
            pending_cr = True
        carry = parts.pop()
        for part in parts:
            if first:
                part = part[len(_BOM) :] if part.startswith(_BOM) else part
                first = False
            yield part
    if carry:
        if first and carry.startswith(_BOM):
            carry = carry[len(_BOM) :]
        yield carry


def _cut_utf8(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` bytes of UTF-8, at a character boundary."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def _local_path(uri: str) -> str:
    """Turn a ``file:`` URI, as Spark reports file names, into a path, and keep other URIs."""
    if uri.startswith("file://"):
        from urllib.parse import unquote

        return unquote(uri[len("file://") :])
    if uri.startswith("file:"):
        from urllib.parse import unquote

        return unquote(uri[len("file:") :])
    return uri


def _reason_list(counts: Dict[str, int]) -> List[Dict[str, Any]]:
    return [{"reason": reason, "lines": lines} for reason, lines in sorted(counts.items())]
