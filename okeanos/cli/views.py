"""``okeanos views show``: print a job's view from OpenSearch."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

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
    start = parse_utc(args.start, "--from") if args.start else None
    end = parse_utc(args.end, "--to") if args.end else None
    if start is not None and end is not None:
        Window(start, end)  # raises WindowError when --to is not after --from
    if args.limit is not None and args.limit < 1:
        raise ConfigurationError(f"--limit: expected a whole number >= 1, got {args.limit}")

    documents = _query(args, job.name, start, end)
    if args.limit is not None:
        documents = documents[: args.limit]
    if args.json:
        for document in documents:
            print(json.dumps(document, ensure_ascii=False))
    else:
        _print_table(documents, ["bucket", "source", *job.dimensions, *job.metric_names])
        print(f"({len(documents)} rows)", file=sys.stderr)
    return 0


def _query(args: argparse.Namespace, job: str, start, end) -> List[Dict[str, Any]]:
    from opensearchpy.exceptions import OpenSearchException

    from okeanos import settings
    from okeanos.search import make_client
    from okeanos.views import query_view

    url = settings.opensearch_url(args.opensearch_url)
    client = make_client(url)
    try:
        return query_view(client, job, source=args.source, start=start, end=end, prefix=args.index_prefix)
    except OpenSearchException as exc:
        raise OkeanosError(f"reading the view of {job} from OpenSearch at {url} failed: {exc}") from exc
    finally:
        client.close()


def _print_table(documents: List[Dict[str, Any]], columns: List[str]) -> None:
    rows = [columns] + [[_cell(document.get(name)) for name in columns] for document in documents]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def _cell(value: Optional[Any]) -> str:
    if value is None:
        return "-"
    text = str(value)
    if len(text) > _TABLE_WIDTH_LIMIT:
        return text[: _TABLE_WIDTH_LIMIT - 3] + "..."
    return text
