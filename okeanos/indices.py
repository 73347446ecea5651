"""Names and index templates of the okeanos indices.

Two kinds of index, both created from an index template with an explicit,
strict mapping so that a document with an unexpected field is rejected
rather than silently widening the mapping:

- ``<prefix>-view-<job>``: the view documents of one job (mapping from
  :meth:`okeanos_spark.registry.AggregationJob.mapping`);
- ``<prefix>-runs``: one run-summary document per run, keyed by run id.

The prefix resolves through :func:`okeanos.settings.index_prefix`. Shared by
the Spark sink, which writes these indices, and the CLI, which reads them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from okeanos.settings import index_prefix

# Keyword fields longer than this are kept in _source but not indexed. 32,766
# bytes is Lucene's maximum term length; ignore_above counts characters.
_MAX_KEYWORD_CHARS = 8191

# Line counts per reason, as a list of {"reason": ..., "lines": ...}.
_REASON_COUNTS: Dict[str, Any] = {
    "properties": {"reason": {"type": "keyword"}, "lines": {"type": "long"}},
}

RUNS_MAPPING: Dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "run_id": {"type": "keyword"},
        "job": {"type": "keyword"},
        "source": {"type": "keyword"},
        "input": {"type": "keyword", "ignore_above": _MAX_KEYWORD_CHARS},
        "format": {"type": "keyword"},
        "window_from": {"type": "date"},
        "window_to": {"type": "date"},
        "span_from": {"type": "date"},
        "span_to": {"type": "date"},
        "files_read": {"type": "long"},
        "files_ignored": {"type": "long"},
        "files_empty": {"type": "long"},
        "files_corrupt": {"type": "long"},
        "empty_files": {"type": "keyword", "ignore_above": _MAX_KEYWORD_CHARS},
        "corrupt_files": {
            "properties": {
                "file": {"type": "keyword", "ignore_above": _MAX_KEYWORD_CHARS},
                "problem": {"type": "text"},
            },
        },
        "complete": {"type": "boolean"},
        "lines_read": {"type": "long"},
        "events_read": {"type": "long"},
        "events_in_span": {"type": "long"},
        "lines_rejected": {"type": "long"},
        "rejected_by_reason": _REASON_COUNTS,
        "lines_skipped": {"type": "long"},
        "skipped_by_reason": _REASON_COUNTS,
        "per_file": {
            "properties": {
                "file": {"type": "keyword", "ignore_above": _MAX_KEYWORD_CHARS},
                "lines_read": {"type": "long"},
                "lines_parsed": {"type": "long"},
                "lines_rejected": {"type": "long"},
                "lines_skipped": {"type": "long"},
                "rejected_by_reason": _REASON_COUNTS,
                "skipped_by_reason": _REASON_COUNTS,
            },
        },
        "rejects_uri": {"type": "keyword", "ignore_above": _MAX_KEYWORD_CHARS},
        "rows_produced": {"type": "long"},
        "documents_written": {"type": "long"},
        "documents_deleted": {"type": "long"},
        "bulk_requests": {"type": "long"},
        "bulk_retries": {"type": "long"},
        "started_at": {"type": "date"},
        "finished_at": {"type": "date"},
        "duration_seconds": {"type": "double"},
        "status": {"type": "keyword"},
        "error": {"type": "text"},
    },
}


def view_index(job: str, *, prefix: Optional[str] = None) -> str:
    """Return the name of the index that stores ``job``'s view documents."""
    return f"{index_prefix(prefix)}-view-{job}"


def runs_index(*, prefix: Optional[str] = None) -> str:
    """Return the name of the index that stores run-summary documents."""
    return f"{index_prefix(prefix)}-runs"


def index_template(index: str, mapping: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the body of the index template that creates ``index`` with ``mapping``.

    One primary shard, because a view index contains aggregated rows (thousands
    to a few million documents), far below the tens of gigabytes per shard
    that the OpenSearch sizing guidance suggests. Replicas are left to the
    cluster's default.
    """
    return {
        "index_patterns": [index],
        "priority": 200,
        "template": {
            "settings": {"index": {"number_of_shards": 1}},
            "mappings": dict(mapping),
        },
        "_meta": {"managed_by": "okeanos"},
    }
