"""``okeanos jobs``: list the registered aggregation jobs."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    """Add the ``jobs`` command."""
    parser = subparsers.add_parser(
        "jobs",
        help="list the aggregation jobs: formats, granularity, dimensions, metrics",
        description="List the registered aggregation jobs.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per job")
    parser.set_defaults(handler=_list_jobs)


def _list_jobs(args: argparse.Namespace) -> int:
    from okeanos_spark.registry import all_jobs

    jobs = all_jobs()
    if args.json:
        for job in jobs:
            print(json.dumps({
                "name": job.name,
                "description": job.description,
                "formats": list(job.formats),
                "granularity": job.granularity,
                "dimensions": list(job.dimensions),
                "metrics": [
                    {"name": m.name, "type": m.type, "description": m.description} for m in job.metrics
                ],
            }))
        return 0

    rows = [("JOB", "FORMATS", "GRANULARITY", "DIMENSIONS", "METRICS")]
    for job in jobs:
        rows.append((
            job.name,
            ",".join(job.formats),
            job.granularity,
            ",".join(job.dimensions),
            ",".join(job.metric_names),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
    return 0
