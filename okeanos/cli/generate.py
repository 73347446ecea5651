"""``okeanos generate ...``: write deterministic sample data for tests, demos and benchmarks."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``generate`` command group and its ``events`` and ``web`` commands."""
    from okeanos.cli import generate_web

    generate = subparsers.add_parser("generate", help="write deterministic sample log files")
    commands = generate.add_subparsers(dest="generate_command", metavar="COMMAND")
    commands.required = True
    _add_events(commands)
    generate_web.add_parser(commands)


def _add_events(commands) -> None:
    events = commands.add_parser(
        "events",
        help="write job-board events (impression, click, apply) as JSON lines in the events format",
    )
    events.add_argument("--out", required=True, metavar="DIR", help="output directory, created if missing")
    events.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    events.add_argument(
        "--start",
        default="2026-01-05T00:00:00Z",
        metavar="ISO",
        help="first UTC hour, such as 2026-01-05T00:00:00Z (default)",
    )
    events.add_argument("--hours", type=int, default=24, help="number of hours of events (default 24)")
    events.add_argument("--rate", type=int, default=1000, help="events per hour (default 1000)")
    events.add_argument("--jobs", type=int, default=50, help="number of distinct job postings (default 50)")
    events.add_argument("--files", type=int, default=1, help="number of files to write (default 1)")
    events.add_argument("--gzip", action="store_true", help="write gzip files (.jsonl.gz)")
    events.set_defaults(handler=_run_events)


def _run_events(args: argparse.Namespace) -> int:
    from okeanos.generate.events import EVENT_TYPES, generate_events

    summary = generate_events(
        args.out,
        seed=args.seed,
        start=args.start,
        hours=args.hours,
        events_per_hour=args.rate,
        jobs=args.jobs,
        files=args.files,
        compress=args.gzip,
    )
    by_type = ", ".join(f"{summary.total_of(kind)} {kind}" for kind in EVENT_TYPES)
    print(f"wrote {summary.total} events ({by_type}) in {len(summary.files)} file(s) to {args.out}")
    return 0
