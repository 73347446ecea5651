"""Read a job's view back from OpenSearch, in a stable order.

Used by ``okeanos views show`` and by the tests that compare views with an
independent computation. Imports no pyspark: the job registry supplies the
field order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from opensearchpy.exceptions import NotFoundError
from opensearchpy.helpers import scan

from okeanos.indices import view_index
from okeanos.windows import format_utc

# Documents per scroll request.
PAGE_SIZE = 1000


def query_view(
    client: Any,
    job: str,
    *,
    source: Optional[str] = None,
    start: Optional[datetime] = None,
    end: Optional[datetime] = None,
    prefix: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """Return every document of ``job``'s view, optionally limited to a source and a window.

    Each document is returned as a dict with the keys ``bucket`` (ISO-8601
    UTC ending in ``Z``), ``source``, each dimension and each metric, in the
    job's declared order. Documents are sorted by bucket, source and
    dimension values (in the byte order OpenSearch uses for keywords). All
    matching documents are returned through a scroll, so the result is not
    capped at the 10,000 hits of one search.

    Parameters
    ----------
    client
        An ``opensearchpy.OpenSearch`` client.
    job
        A registered job name.
    source
        Only documents of this source; every source if not given.
    start, end
        Only buckets starting in ``[start, end)``; unbounded on a side not given.
    prefix
        Index name prefix; :func:`okeanos.settings.index_prefix` if not given.

    Raises
    ------
    KeyError
        If ``job`` is not registered.
    """
    from okeanos_spark.registry import get_job

    definition = get_job(job)
    fields = ["bucket", "source", *definition.dimensions, *definition.metric_names]
    sort_fields = ["bucket", "source", *definition.dimensions]

    filters: List[Dict[str, Any]] = [{"term": {"job": job}}]
    if source is not None:
        filters.append({"term": {"source": source}})
    bucket_range: Dict[str, str] = {}
    if start is not None:
        bucket_range["gte"] = format_utc(start)
    if end is not None:
        bucket_range["lt"] = format_utc(end)
    if bucket_range:
        filters.append({"range": {"bucket": bucket_range}})

    query = {"query": {"bool": {"filter": filters}}, "_source": fields}
    index = view_index(job, prefix=prefix)
    documents: List[Dict[str, Any]] = []
    try:
        # A scroll reads every match exactly once. Paging with a sort on the
        # dimensions would not: a keyword longer than the mapping's
        # ignore_above has no sort value, so such documents tie and
        # search_after could skip some of them at a page boundary.
        for hit in scan(client, index=index, query=query, size=PAGE_SIZE, preserve_order=False):
            stored = hit["_source"]
            documents.append({name: stored.get(name) for name in fields})
    except NotFoundError:
        return documents
    # Python orders str by code point, which is the order of UTF-8 bytes
    # that OpenSearch uses for keywords; a missing value sorts last.
    documents.sort(key=lambda document: [_sort_key(document.get(name)) for name in sort_fields])
    return documents


def _sort_key(value: Any) -> tuple:
    return (value is None, "" if value is None else str(value))
