"""The ``generate web`` command: write synthetic web access logs and their summary.

:func:`add_parser` adds the command to the subparsers of a ``generate``
command group.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from okeanos.windows import parse_utc


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``web`` command to ``subparsers`` and return its parser."""
    from okeanos.generate.web import DEFAULT_START, FORMATS, WebLogSpec

    defaults = WebLogSpec()
    parser = subparsers.add_parser(
        "web",
        help="write synthetic web access logs and the totals they aggregate to",
        description=(
            "Write hours of synthetic web traffic as many log files in one format, "
            "the same bytes for the same options, and a JSON summary: requests, bytes "
            "and distinct clients per UTC hour and status over the well-formed lines."
        ),
    )
    parser.add_argument("--format", choices=FORMATS, default=defaults.format, help="log format (default: %(default)s)")
    parser.add_argument("--lines", type=int, default=defaults.lines, help="lines in total (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output directory for the log files")
    parser.add_argument("--summary", help="summary JSON path (default: OUT.summary.json beside the directory)")
    parser.add_argument("--start", default=DEFAULT_START, help="first hour, ISO-8601 UTC (default: %(default)s)")
    parser.add_argument("--hours", type=int, default=defaults.hours, help="hours of traffic (default: %(default)s)")
    parser.add_argument(
        "--files-per-hour", type=int, default=defaults.files_per_hour,
        help="files per hour, a divisor of 3600 (default: %(default)s)",
    )
    parser.add_argument("--gzip", action="store_true", help="write gzip files (not splittable by Spark)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--late-share", type=float, default=defaults.late_share,
        help="share of lines 1 to 3 hours older than their file (default: %(default)s)",
    )
    parser.add_argument(
        "--malformed-share", type=float, default=defaults.malformed_share,
        help="share of malformed lines (default: %(default)s)",
    )
    parser.add_argument("--clients", type=int, default=defaults.clients, help="client pool size (default: %(default)s)")
    parser.add_argument(
        "--ipv6-share", type=float, default=defaults.ipv6_share,
        help="share of IPv6 clients (default: %(default)s)",
    )
    parser.add_argument("--paths", type=int, default=defaults.paths, help="URL path pool size (default: %(default)s)")
    parser.add_argument("--workers", type=int, help="writer processes (default: CPUs, at most 4)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Generate the files and the summary; return the exit code."""
    from okeanos.generate.web import WebLogSpec, generate_web_logs

    spec = WebLogSpec(
        format=args.format,
        lines=args.lines,
        start=parse_utc(args.start, "--start"),
        hours=args.hours,
        files_per_hour=args.files_per_hour,
        gzip=args.gzip,
        seed=args.seed,
        late_share=args.late_share,
        malformed_share=args.malformed_share,
        clients=args.clients,
        ipv6_share=args.ipv6_share,
        paths=args.paths,
    )
    out = Path(args.out)
    summary_path = Path(args.summary) if args.summary else out.with_name(out.name + ".summary.json")
    started = time.perf_counter()
    summary = generate_web_logs(spec, out, workers=args.workers)
    seconds = time.perf_counter() - started
    summary.save(summary_path)
    print(
        f"wrote {summary.lines} lines ({summary.malformed_lines} malformed, {summary.late_lines} late) "
        f"in {summary.files} files, {summary.bytes_written / 1e6:.1f} MB, to {out} in {seconds:.1f} s "
        f"({summary.lines / seconds:,.0f} lines/s); summary: {summary_path}",
        file=sys.stdout,
    )
    return 0
