"""Read a job's view back from OpenSearch, in a stable order.

Used by ``okeanos views show`` and by the tests that compare views with an
independent computation. Imports no pyspark: the job registry supplies the
field order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from opensearchpy.exceptions import NotFoundError

from okeanos.indices import view_index
from okeanos.windows import format_utc

# Documents per search request while paging.
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
    dimension values (as OpenSearch sorts keywords). All matching documents
    are returned, paging with ``search_after``, so the result is not capped
    at the 10,000 hits of one search.

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

    body: Dict[str, Any] = {
        "size": PAGE_SIZE,
        "query": {"bool": {"filter": filters}},
        # Bucket, source and dimension values identify a document, so this
        # order is total and search_after resumes exactly where a page ended.
        "sort": [{name: {"order": "asc", "missing": "_last"}} for name in sort_fields],
        "_source": fields,
        "track_total_hits": False,
    }
    index = view_index(job, prefix=prefix)
    documents: List[Dict[str, Any]] = []
    while True:
        try:
            response = client.search(index=index, body=body)
        except NotFoundError:
            return documents
        hits = response["hits"]["hits"]
        for hit in hits:
            stored = hit["_source"]
            documents.append({name: stored.get(name) for name in fields})
        if len(hits) < PAGE_SIZE:
            return documents
        body["search_after"] = hits[-1]["sort"]
