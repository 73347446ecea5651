"""The OpenSearch sink of a run: index templates, view writes, stale deletes, run summaries.

Stages, in the order :func:`okeanos_spark.run.run_job` calls them:

1. :func:`ensure_indices` puts the index templates (view and runs) with
   their explicit mappings and creates the indices if they are missing.
2. :func:`write_view` indexes every output row from the executors, one
   :class:`~okeanos_spark.bulk.BulkWriter` per partition, and returns the
   counts of rows seen and documents indexed.
3. :func:`delete_stale` refreshes the view index and deletes the documents
   of the same job and source, inside the recomputed bucket span, that this
   run did not write, so dimension values that vanished from the input do
   not linger.
4. :func:`count_run_documents` counts what this run left in the index, so
   the run can check it against the rows it produced.
5. :func:`write_summary` indexes the run-summary document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from opensearchpy.exceptions import OpenSearchException, RequestError
from opensearchpy.helpers import scan

from okeanos.indices import RUNS_MAPPING, index_template, runs_index, view_index
from okeanos.windows import Window, format_utc
from okeanos_spark.bulk import BulkConnectionError, BulkSettings, BulkWriter
from okeanos_spark.documents import document_id, format_bucket
from okeanos_spark.exceptions import SinkError, SinkItemError, SinkUnavailableError
from okeanos_spark.registry import AggregationJob

logger = logging.getLogger(__name__)

# Concurrent bulk writers (partitions) per run. A view is aggregated, so
# it is small next to its input, and a few writers keep a small domain
# from responding with 429 while still writing in parallel.
DEFAULT_WRITERS = 4

_BUCKET_COLUMN = "_bucket_epoch"


@dataclass(frozen=True)
class ViewTarget:
    """Target and shape of one run's view documents, shipped to the executors as plain values."""

    url: str
    index: str
    job: str
    source: str
    run_id: str
    dimensions: Tuple[str, ...]
    metrics: Tuple[str, ...]
    bulk: BulkSettings = field(default_factory=BulkSettings)


@dataclass(frozen=True)
class WriteCounts:
    """Rows the executors read from the job's output and documents OpenSearch indexed."""

    rows: int
    indexed: int
    requests: int
    retries: int


def ensure_indices(client: Any, job: AggregationJob, *, prefix: Optional[str] = None) -> Tuple[str, str]:
    """Put the index templates of ``job``'s view and of the runs index, and create both indices.

    Idempotent: templates are overwritten with the same body, and an index
    that exists is left as it is (a template applies only when an index is
    created). Returns the names of the view index and the runs index.
    """
    view = view_index(job.name, prefix=prefix)
    runs = runs_index(prefix=prefix)
    for index, mapping in ((view, job.mapping()), (runs, RUNS_MAPPING)):
        client.indices.put_index_template(name=index, body=index_template(index, mapping))
        if not client.indices.exists(index=index):
            try:
                client.indices.create(index=index)
            except RequestError as exc:
                # Another run created it between the check and the create.
                if exc.error != "resource_already_exists_exception":
                    raise
    return view, runs


def write_view(df: Any, target: ViewTarget, *, writers: int = DEFAULT_WRITERS) -> WriteCounts:
    """Index every row of ``df`` (a job's output) as a view document, from the executors.

    The write runs on the executors, with ``mapPartitions`` returning each
    partition's counts and failures to the driver, so the driver never keeps
    the view and writing scales with the cluster. At most ``writers``
    partitions write at once.

    Raises
    ------
    SinkUnavailableError
        If a partition could not reach OpenSearch after every retry.
    SinkItemError
        If any document was not indexed, naming the first one's id, status and reason.
    """
    from pyspark.sql import functions as F

    columns = [F.col("bucket").cast("long").alias(_BUCKET_COLUMN)]
    columns += [F.col(name) for name in target.dimensions + target.metrics]
    rows = df.select(*columns)
    if rows.rdd.getNumPartitions() > writers:
        rows = rows.coalesce(writers)

    results = rows.rdd.mapPartitions(lambda partition: _write_partition(target, partition)).collect()
    return _combine(results, target)


def delete_stale(client: Any, target: ViewTarget, span: Window) -> int:
    """Delete the documents of ``target``'s job and source in ``span`` that another run wrote.

    Call it only after every write of this run succeeded: the refresh makes
    those writes visible to the search, and documents whose ``run_id`` is
    this run's are kept. Returns the number of documents deleted.

    The stale documents are found with a scroll and deleted with bulk
    ``delete`` operations conditional on the sequence number read, which
    behaves like ``_delete_by_query`` with ``conflicts=proceed``: a document
    rewritten in the meantime is kept. ``_delete_by_query`` itself is not
    used because it lives in the ``reindex`` module, which the local node's
    minimal distribution and OpenSearch Serverless collections do not have.
    """
    query = {
        "bool": {
            "filter": [
                {"term": {"job": target.job}},
                {"term": {"source": target.source}},
                {"range": {"bucket": {"gte": format_utc(span.start), "lt": format_utc(span.end)}}},
            ],
            "must_not": [{"term": {"run_id": target.run_id}}],
        }
    }
    # A scroll visits every match once. Paging with search_after on the
    # dimensions could skip documents whose keyword exceeds ignore_above,
    # because they have no sort value and tie.
    body: Dict[str, Any] = {"query": query, "_source": False, "seq_no_primary_term": True}
    writer = BulkWriter(client, target.index, settings=target.bulk)
    try:
        client.indices.refresh(index=target.index)
        for hit in scan(client, index=target.index, query=body, size=target.bulk.max_actions):
            writer.delete(hit["_id"], if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        result = writer.close()
        client.indices.refresh(index=target.index)
    except (BulkConnectionError, OpenSearchException) as exc:
        raise _wrap(exc, f"deleting stale documents from {target.index}", target.url) from exc
    if result.failed:
        first = result.failures[0]
        raise SinkItemError(first.doc_id, first.status, first.reason, result.failed)
    if result.conflicts:
        logger.info("%d stale documents changed or vanished before the delete; kept", result.conflicts)
    return result.deleted


def count_run_documents(client: Any, target: ViewTarget, span: Window) -> int:
    """Count the documents in ``span`` that this run wrote (after :func:`delete_stale` refreshed)."""
    query = {
        "bool": {
            "filter": [
                {"term": {"job": target.job}},
                {"term": {"source": target.source}},
                {"term": {"run_id": target.run_id}},
                {"range": {"bucket": {"gte": format_utc(span.start), "lt": format_utc(span.end)}}},
            ]
        }
    }
    try:
        response = client.count(index=target.index, body={"query": query})
    except OpenSearchException as exc:
        raise _wrap(exc, f"counting the documents of run {target.run_id}", target.url) from exc
    return int(response["count"])


def write_summary(client: Any, document: Dict[str, Any], *, prefix: Optional[str] = None) -> None:
    """Index a run-summary document under its ``run_id``, visible to searches on return."""
    client.index(
        index=runs_index(prefix=prefix), id=document["run_id"], body=document, refresh=True
    )


def redact_url(url: str) -> str:
    """Return ``url`` without a user name or password, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _write_partition(target: ViewTarget, rows: Iterable[Any]) -> Iterator[Dict[str, Any]]:
    """Index one partition's rows and yield one dict of counts and failures.

    Runs on an executor. Errors from OpenSearch are returned, not raised,
    so that Spark does not rerun the task (this writer already retried) and
    the driver can report them with the URL.
    """
    from okeanos.search import make_client

    count = 0
    outcome: Dict[str, Any] = {"rows": 0, "error": None}
    client = make_client(target.url)
    writer = BulkWriter(client, target.index, settings=target.bulk)
    try:
        for row in rows:
            count += 1
            writer.add(*_document(target, row))
        writer.close()
    except (BulkConnectionError, OpenSearchException) as exc:
        outcome["error"] = str(exc)
    finally:
        client.close()
    result = writer.result
    outcome.update(
        rows=count,
        indexed=result.indexed,
        failed=result.failed,
        failures=[failure.to_dict() for failure in result.failures],
        requests=result.requests,
        retries=result.retries,
    )
    yield outcome


def _document(target: ViewTarget, row: Any) -> Tuple[str, Dict[str, Any]]:
    values = row.asDict()
    bucket = format_bucket(values[_BUCKET_COLUMN])
    document: Dict[str, Any] = {"job": target.job, "source": target.source, "bucket": bucket}
    for name in target.dimensions + target.metrics:
        document[name] = values[name]
    document["run_id"] = target.run_id
    dimension_values = [values[name] for name in target.dimensions]
    return document_id(target.job, target.source, bucket, dimension_values), document


def _combine(results: List[Dict[str, Any]], target: ViewTarget) -> WriteCounts:
    errors = [result["error"] for result in results if result["error"]]
    if errors:
        url = redact_url(target.url)
        raise SinkUnavailableError(
            f"writing to OpenSearch at {url} (index {target.index}) failed in "
            f"{len(errors)} partition(s): {errors[0]}. Check that the cluster is "
            "reachable and rerun the same window.",
            url,
        )
    failed = sum(result["failed"] for result in results)
    if failed:
        first = next(f for result in results for f in result["failures"])
        raise SinkItemError(first["doc_id"], first["status"], first["reason"], failed)
    return WriteCounts(
        rows=sum(result["rows"] for result in results),
        indexed=sum(result["indexed"] for result in results),
        requests=sum(result["requests"] for result in results),
        retries=sum(result["retries"] for result in results),
    )


def _wrap(exc: Exception, operation: str, url: str) -> SinkError:
    from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

    redacted = redact_url(url)
    if isinstance(exc, OpenSearchConnectionError):
        return SinkUnavailableError(
            f"{operation} failed: OpenSearch at {redacted} is unreachable ({exc})", redacted
        )
    return SinkError(f"{operation} failed at {redacted}: {exc}")
