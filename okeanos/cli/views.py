"""``okeanos views show``: print a job's view from OpenSearch."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from okeanos.cli.options import check_source
from okeanos.exceptions import ConfigurationError, OkeanosError
from okeanos.windows import Window, parse_utc

_TABLE_WIDTH_LIMIT = 60


def register(subparsers) -> None:
    """Add the ``views`` command group with its ``show`` command."""
    views = subparsers.add_parser("views", help="read the views that runs wrote to OpenSearch")
    commands = views.add_subparsers(dest="views_command", metavar="COMMAND")
    commands.required = True

    show = commands.add_parser(
        "show",
        help="print a job's view",
        description="Print a job's view, sorted by bucket, source and dimensions.",
    )
    show.add_argument("job", metavar="JOB", help="a registered job name (see `okeanos jobs`)")
    show.add_argument("--source", metavar="NAME", help="only this source (default: every source)")
    show.add_argument("--from", dest="start", metavar="ISO", help="first bucket, UTC (inclusive)")
    show.add_argument("--to", dest="end", metavar="ISO", help="end of the buckets, UTC (exclusive)")
    show.add_argument(
        "--top", type=int, metavar="N",
        help="keep the N documents with the highest --by metric per bucket and source (default: all)",
    )
    show.add_argument("--by", metavar="METRIC", help="metric that --top ranks by (default: the job's first metric)")
    show.add_argument("--limit", type=int, metavar="N", help="print at most N rows (default: all)")
    show.add_argument("--json", action="store_true", help="print one JSON object per document")
    show.add_argument("--opensearch-url", metavar="URL", help="cluster URL (default: $OPENSEARCH_URL or the local node)")
    show.add_argument("--index-prefix", metavar="PREFIX", help="index name prefix (default: okeanos)")
    show.set_defaults(handler=_show)


def _show(args: argparse.Namespace) -> int:
    from okeanos_spark.registry import get_job

    try:
        job = get_job(args.job)
    except KeyError as exc:
        raise ConfigurationError(f"JOB: {exc.args[0]}") from exc
    check_source(args.source)
    start = parse_utc(args.start, "--from") if args.start else None
    end = parse_utc(args.end, "--to") if args.end else None
    if start is not None and end is not None:
        Window(start, end)  # raises WindowError when --to is not after --from
    for option, value in (("--limit", args.limit), ("--top", args.top)):
        if value is not None and value < 1:
            raise ConfigurationError(f"{option}: expected a whole number >= 1, got {value}")
    rank_by = args.by or job.metric_names[0]
    if rank_by not in job.metric_names:
        raise ConfigurationError(
            f"--by: {rank_by!r} is not a metric of {job.name}; use one of: {', '.join(job.metric_names)}"
        )

    documents = _query(args, job.name, start, end)
    if args.top is not None:
        documents = top_documents(documents, args.top, rank_by)
    if args.limit is not None:
        documents = documents[: args.limit]
    if args.json:
        for document in documents:
            print(json.dumps(document, ensure_ascii=False))
        if not documents:
            # stdout stays empty, which is valid JSON lines, and the note on stderr explains why.
            print(f"okeanos: no documents of {job.name} matched", file=sys.stderr)
    else:
        _print_table(documents, ["bucket", "source", *job.dimensions, *job.metric_names])
        sys.stdout.flush()
        print(f"({len(documents)} rows)", file=sys.stderr)
    return 0


def _query(args: argparse.Namespace, job: str, start, end) -> List[Dict[str, Any]]:
    from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
    from opensearchpy.exceptions import OpenSearchException

    from okeanos import settings
    from okeanos.search import make_client
    from okeanos.views import query_view

    url = settings.opensearch_url(args.opensearch_url)
    client = make_client(url)
    try:
        return query_view(client, job, source=args.source, start=start, end=end, prefix=args.index_prefix)
    except OpenSearchConnectionError as exc:
        hint = ""
        if url == f"http://127.0.0.1:{settings.local_opensearch_port()}":
            hint = "; start it with `okeanos local opensearch start`"
        raise OkeanosError(f"cannot connect to OpenSearch at {url}{hint}: {exc}") from exc
    except OpenSearchException as exc:
        raise OkeanosError(f"reading the view of {job} from OpenSearch at {url} failed: {exc}") from exc
    finally:
        client.close()


def top_documents(documents: List[Dict[str, Any]], count: int, metric: str) -> List[Dict[str, Any]]:
    """Keep the ``count`` documents with the highest ``metric`` in each bucket and source.

    Documents stay grouped in their bucket and source order. Within a
    group they are sorted by ``metric``, highest first, and ties keep their
    dimension order.
    """
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for document in documents:
        groups.setdefault((document["bucket"], document["source"]), []).append(document)
    top: List[Dict[str, Any]] = []
    for members in groups.values():
        ranked = sorted(members, key=lambda document: -(document.get(metric) or 0))
        top.extend(ranked[:count])
    return top


def _print_table(documents: List[Dict[str, Any]], columns: List[str]) -> None:
    rows = [columns] + [[_cell(document.get(name)) for name in columns] for document in documents]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def _cell(value: Optional[Any]) -> str:
    if value is None:
        return "-"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    if len(text) > _TABLE_WIDTH_LIMIT:
        return text[: _TABLE_WIDTH_LIMIT - 3] + "..."
    return text
