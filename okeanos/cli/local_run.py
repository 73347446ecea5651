"""``okeanos local run``: aggregate local files with local Spark into the views.

Every option is validated before Spark starts, so a typo costs no JVM start.
Several ``--job`` options run one after the other in the same Spark session,
over the same input, which saves the JVM start-up per job.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import List, Optional

from okeanos.cli.options import check_input, check_lastnhours
from okeanos.exceptions import ConfigurationError
from okeanos.windows import Window, floor_to, parse_utc, utc_now


def register(subparsers) -> None:
    """Add the ``local run`` command."""
    parser = subparsers.add_parser(
        "run",
        help="aggregate local log files into a job's view",
        description=(
            "Aggregate local log files with local Spark and write the job's view to "
            "OpenSearch. Without a window, every bucket of the input is recomputed."
        ),
    )
    parser.add_argument(
        "--job", action="append", required=True, metavar="JOB",
        help="a registered job (see `okeanos jobs`); repeat to run several jobs over the same input",
    )
    parser.add_argument("--format", required=True, metavar="FORMAT", help="input format, one of the job's formats")
    parser.add_argument("--input", required=True, metavar="PATH", help="a log file or a directory of them, plain or gzip")
    parser.add_argument("--source", metavar="NAME", help="source name of the view documents (default: the input's base name)")
    window = parser.add_argument_group("window (default: all the input's data)")
    window.add_argument("--from", dest="start", metavar="ISO", help="window start, UTC, e.g. 2015-05-17T10:00:00Z")
    window.add_argument("--to", dest="end", metavar="ISO", help="window end, UTC (exclusive)")
    window.add_argument(
        "--runasof", metavar="T",
        help="end of a 'last N hours' window: an ISO UTC time, 'now', or 'today' (the start of the current UTC day)",
    )
    window.add_argument("--lastnhours", type=int, metavar="N", help="length of the window ending at --runasof, in hours")
    parser.add_argument("--opensearch-url", metavar="URL", help="cluster URL (default: $OPENSEARCH_URL or the local node)")
    parser.add_argument("--index-prefix", metavar="PREFIX", help="index name prefix (default: okeanos)")
    parser.set_defaults(handler=_run)


def resolve_window(
    start: Optional[str],
    end: Optional[str],
    runasof: Optional[str],
    lastnhours: Optional[int],
    *,
    now: Optional[datetime] = None,
) -> Optional[Window]:
    """Return the window the options describe, or ``None`` for all the data.

    Raises
    ------
    ConfigurationError
        If the two ways of giving a window are mixed or one is incomplete, or
        ``lastnhours`` is outside 1 to :data:`~okeanos.task.MAX_LASTNHOURS`.
    WindowError
        If a time is not ISO-8601 UTC or the window is empty.
    """
    fixed = start is not None or end is not None
    relative = runasof is not None or lastnhours is not None
    if fixed and relative:
        options_given = [
            name
            for name, value in (("--from", start), ("--to", end), ("--runasof", runasof), ("--lastnhours", lastnhours))
            if value is not None
        ]
        raise ConfigurationError(
            f"{' and '.join(options_given)}: use either --from with --to, or --runasof with --lastnhours, not both"
        )
    if fixed:
        if start is None or end is None:
            missing, present = ("--from", "--to") if start is None else ("--to", "--from")
            raise ConfigurationError(f"{present} needs {missing} as well")
        return Window(parse_utc(start, "--from"), parse_utc(end, "--to"))
    if relative:
        if lastnhours is None:
            raise ConfigurationError(f"--runasof {runasof}: needs --lastnhours N as well")
        check_lastnhours(lastnhours)
        return Window.last_n_hours(parse_runasof(runasof or "now", now=now), lastnhours)
    return None


def parse_runasof(text: str, *, now: Optional[datetime] = None) -> datetime:
    """Parse ``--runasof``: an ISO UTC time, ``now``, or ``today`` (00:00 UTC of the current day)."""
    moment = now or utc_now()
    if text == "now":
        return moment
    if text == "today":
        return floor_to(moment, "day")
    return parse_utc(text, "--runasof")


def _run(args: argparse.Namespace) -> int:
    from okeanos_spark.registry import get_job
    from okeanos_spark.run import resolve_source

    jobs = []
    for name in args.job:
        try:
            job = get_job(name)
        except KeyError as exc:
            raise ConfigurationError(f"--job: {exc.args[0]}") from exc
        if args.format not in job.formats:
            raise ConfigurationError(
                f"--format: {args.format!r} is not a format of job {name}; use one of: {', '.join(job.formats)}"
            )
        jobs.append(job)
    input_path = _check_input(args.input)
    source = resolve_source(input_path, args.source)
    window = resolve_window(args.start, args.end, args.runasof, args.lastnhours)

    summaries = _run_jobs(args, [job.name for job in jobs], input_path, source, window)
    for summary in summaries:
        _print_summary(summary)
    return 0


def _check_input(path: str) -> str:
    check_input(path)
    if path.startswith("s3://"):
        return path
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise ConfigurationError(f"--input: {path} does not exist; pass a log file or a directory")
    return str(resolved)


def _run_jobs(args, jobs: List[str], input_path: str, source: str, window: Optional[Window]) -> list:
    from okeanos import settings
    from okeanos.search import make_client
    from okeanos_spark.run import run_job
    from okeanos_spark.session import build_session

    url = settings.opensearch_url(args.opensearch_url)
    client = make_client(url)
    # Bind Spark to the loopback interface, as the local OpenSearch node is.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = build_session(
        "okeanos-local-run",
        master="local[*]",
        config={"spark.ui.showConsoleProgress": "true"},
        log_level="ERROR",
    )
    summaries = []
    try:
        for job in jobs:
            summaries.append(run_job(
                spark,
                job=job,
                input_path=input_path,
                input_format=args.format,
                source=source,
                window=window,
                client=client,
                opensearch_url=url,
                index_prefix=args.index_prefix,
                progress=lambda message, job=job: print(f"okeanos: {job}: {message}", file=sys.stderr),
            ))
    finally:
        client.close()
    return summaries


def _print_summary(summary) -> None:
    rejected = ", ".join(f"{reason} {lines}" for reason, lines in sorted(summary.rejected_by_reason.items()))
    print(f"{summary.job} [{summary.source}] run {summary.run_id}: {summary.status}")
    print(f"  span       {summary.span if summary.span else '(no events)'}")
    print(f"  events     {summary.events_read} read, {summary.events_in_span} in span")
    print(f"  files      {summary.file_check.get('files_read', 0)} read")
    print(f"  rejected   {summary.lines_rejected}" + (f" ({rejected})" if rejected else ""))
    if summary.rejects_uri:
        print(f"  samples    {summary.rejects_uri}")
    print(f"  skipped    {summary.lines_skipped}")
    print(f"  documents  {summary.documents_written} written, {summary.documents_deleted} stale deleted")
    print(f"  duration   {summary.duration_seconds:.1f} s")
