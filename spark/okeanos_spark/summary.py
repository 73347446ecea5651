"""The run summary: what one run read, rejected, wrote and deleted, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from okeanos.windows import Window, format_utc

SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass
class RunSummary:
    """Counts and outcome of one run; indexed in ``okeanos-runs`` under ``run_id``.

    Attributes
    ----------
    lines_read
        Every line read: parsed, rejected or skipped.
    events_read
        Lines parsed into events, over the whole input.
    events_in_span
        Parsed events whose time lies in the bucket span, so the ones aggregated.
    lines_rejected, rejected_by_reason
        Lines that did not parse, in total and per reason.
    lines_skipped, skipped_by_reason
        Lines the format skips on purpose (headers and comments), in total and per reason.
    per_file
        The same line counts per file, as :meth:`LineAccounting.to_dict` lists them.
    file_check
        What :func:`okeanos_spark.file_checks.check_files` found: files read,
        ignored, empty and corrupt, and whether the input is complete.
    rejects_uri
        Where the sample of rejected lines was written; none when no line was rejected.
    rows_produced
        Rows of the job's output, one per bucket and dimension values.
    documents_written
        Documents this run indexed and found in the index afterwards.
    documents_deleted
        Stale documents of the recomputed buckets that this run deleted.
    bulk_requests, bulk_retries
        Bulk requests sent to write the view, and how many were retries.
    """

    run_id: str
    job: str
    source: str
    input: str
    format: str
    started_at: datetime
    window: Optional[Window] = None
    span: Optional[Window] = None
    lines_read: int = 0
    events_read: int = 0
    events_in_span: int = 0
    lines_rejected: int = 0
    rejected_by_reason: Dict[str, int] = field(default_factory=dict)
    lines_skipped: int = 0
    skipped_by_reason: Dict[str, int] = field(default_factory=dict)
    per_file: List[Dict[str, Any]] = field(default_factory=list)
    file_check: Dict[str, Any] = field(default_factory=dict)
    rejects_uri: Optional[str] = None
    rows_produced: int = 0
    documents_written: int = 0
    documents_deleted: int = 0
    bulk_requests: int = 0
    bulk_retries: int = 0
    finished_at: Optional[datetime] = None
    status: str = FAILED
    error: Optional[str] = None

    @property
    def succeeded(self) -> bool:
        """Whether the run finished and every produced row was written."""
        return self.status == SUCCEEDED

    @property
    def duration_seconds(self) -> float:
        """Seconds from start to finish, or 0 while the run is not finished."""
        if self.finished_at is None:
            return 0.0
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def to_document(self) -> Dict[str, Any]:
        """Return the run-summary document, as the ``okeanos-runs`` mapping declares it."""
        document = {
            "run_id": self.run_id,
            "job": self.job,
            "source": self.source,
            "input": self.input,
            "format": self.format,
            "window_from": _time(self.window.start if self.window else None),
            "window_to": _time(self.window.end if self.window else None),
            "span_from": _time(self.span.start if self.span else None),
            "span_to": _time(self.span.end if self.span else None),
            "lines_read": self.lines_read,
            "events_read": self.events_read,
            "events_in_span": self.events_in_span,
            "lines_rejected": self.lines_rejected,
            "rejected_by_reason": _reasons(self.rejected_by_reason),
            "lines_skipped": self.lines_skipped,
            "skipped_by_reason": _reasons(self.skipped_by_reason),
            "per_file": self.per_file,
            "rejects_uri": self.rejects_uri,
            "rows_produced": self.rows_produced,
            "documents_written": self.documents_written,
            "documents_deleted": self.documents_deleted,
            "bulk_requests": self.bulk_requests,
            "bulk_retries": self.bulk_retries,
            "started_at": _time(self.started_at),
            "finished_at": _time(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "status": self.status,
            "error": self.error,
        }
        document.update(self.file_check)
        return document


def _reasons(counts: Dict[str, int]) -> List[Dict[str, Any]]:
    return [{"reason": reason, "lines": lines} for reason, lines in sorted(counts.items())]


def _time(moment: Optional[datetime]) -> Optional[str]:
    return format_utc(moment) if moment is not None else None
