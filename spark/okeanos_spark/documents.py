"""Ids of view documents and the form of their ``bucket`` field.

A view document is one row of a job's output: the bucket, each dimension and
each metric, plus ``job``, ``source`` and the ``run_id`` of the run that wrote
it last. Its id depends only on what identifies the row (job, source, bucket
and dimension values), so a rerun of the same window overwrites the same
documents instead of adding new ones.

Pure Python, no pyspark: executors and tests call these functions directly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Sequence


def document_id(job: str, source: str, bucket: str, dimension_values: Sequence[Any]) -> str:
    """Return the id of a view document: SHA-256 (hex) of its identifying values.

    The hash input is the canonical JSON (no spaces, non-ASCII kept as UTF-8)
    of ``[job, source, bucket, *dimension_values]``. JSON keeps the parts
    apart, so ``("a-b", "c")`` and ``("a", "b-c")`` cannot collide. The id is
    always 64 characters, whatever the length of the dimension values, while
    OpenSearch rejects ids over 512 bytes.

    Parameters
    ----------
    job, source
        Job name and source name.
    bucket
        Bucket start as ISO-8601 UTC ending in ``Z`` (see :func:`format_bucket`).
    dimension_values
        The row's dimension values in the job's declared order.
    """
    parts = [job, source, bucket, *dimension_values]
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def format_bucket(epoch_seconds: int) -> str:
    """Format a bucket start, given in seconds since the epoch, as ISO-8601 UTC with ``Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
