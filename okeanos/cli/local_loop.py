"""``okeanos local loop``: the continuous loop on local files into the local OpenSearch.

It runs the same handler as in AWS, with an in-process topic and local
``spark-submit`` steps, and prints one line per cycle. It stops on Ctrl-C, or
when the task is paused (``okeanos pause TASK`` from another terminal): the
running step finishes and no further step is submitted.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from okeanos.cli.options import check_input, check_lastnhours, options_named
from okeanos.exceptions import ConfigurationError
from okeanos.windows import format_utc, utc_now


def register(subparsers) -> None:
    """Add the ``local loop`` command."""
    parser = subparsers.add_parser(
        "loop",
        help="aggregate a local directory continuously, cycle after cycle",
        description=(
            "Run a job continuously over a local directory: each cycle recomputes the last N hours "
            "and writes the view to OpenSearch. Stops on Ctrl-C or `okeanos pause TASK`."
        ),
    )
    parser.add_argument("job", metavar="JOB", help="a registered job (see `okeanos jobs`)")
    parser.add_argument("--input", required=True, metavar="DIR", help="directory (or file) of logs; new files are picked up each cycle")
    parser.add_argument("--format", required=True, metavar="FORMAT", help="input format, one of the job's formats")
    parser.add_argument("--task", metavar="NAME", help="task name, also the views' source (default: the job name with '_' replaced by '-')")
    parser.add_argument("--lastnhours", type=int, default=2, metavar="N", help="hours each cycle recomputes (default 2)")
    parser.add_argument("--runasof", default="now", metavar="T", help="end of the window: 'now' (default) or an ISO UTC time, to replay history")
    parser.add_argument("--interval", type=int, default=10, metavar="SECONDS", help="minimum time between cycle starts, in seconds (default 10)")
    parser.add_argument("--cycles", type=int, metavar="N", help="stop after N cycles (default: run until Ctrl-C or pause)")
    parser.add_argument("--opensearch-url", metavar="URL", help="cluster URL (default: $OPENSEARCH_URL or the local node)")
    parser.add_argument("--index-prefix", metavar="PREFIX", help="index name prefix (default: okeanos)")
    parser.set_defaults(handler=_loop)


def _loop(args: argparse.Namespace) -> int:
    from okeanos.local.loop import LocalLoop, local_store
    from okeanos.settings import opensearch_url
    from okeanos.state.base import PAUSED
    from okeanos.task import parse_task
    from okeanos_handler.steps import state_key
    from okeanos_spark.registry import job_names

    check_input(args.input)
    check_lastnhours(args.lastnhours)
    path = Path(args.input).expanduser().resolve()
    if not path.exists():
        raise ConfigurationError(f"--input {args.input!r} does not exist; give a directory or file of logs")
    body = {
        "version": 1,
        "task": args.task or args.job.replace("_", "-"),
        "job": args.job,
        "input": {"uri": str(path), "format": args.format},
        "window": {"runasof": args.runasof, "lastnhours": args.lastnhours},
        "resubmit": True,
        "interval_seconds": args.interval,
    }
    with options_named():
        message = parse_task(body, jobs=job_names())
    if not args.verbose:
        from okeanos_handler import app

        app.set_log_level(logging.WARNING)
    store = local_store()
    state = store.get(state_key(message))
    if state is not None and state.status == PAUSED:
        # Starting the loop stores the task as active, which would undo the pause.
        raise ConfigurationError(
            f"task {message.task!r} is paused; run `okeanos resume {message.task}` first"
        )
    loop = LocalLoop(store=store, opensearch_url=opensearch_url(args.opensearch_url), index_prefix=args.index_prefix)
    loop.start(message)
    print(f"loop {message.task}: {message.job} over {path}, last {args.lastnhours} h, every {args.interval} s (Ctrl-C stops)")

    def report(cycle) -> None:
        state = cycle.state
        window = str(state.last_completed) if state is not None and state.last_completed else "-"
        status = state.status if state is not None else "?"
        print(
            f"cycle {cycle.number}: {cycle.step.state} in {cycle.step.seconds:.1f} s, window {window}, "
            f"task {status} at {format_utc(utc_now())}",
            flush=True,
        )
        if cycle.step.state != "COMPLETED":
            for line in cycle.step.output_tail[-5:]:
                print(f"    {line}")

    cycles = loop.run(max_cycles=args.cycles, on_cycle=report)
    print(f"loop {message.task} stopped after {cycles} cycle(s)")
    return 0
