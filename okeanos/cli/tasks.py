"""``okeanos start|pause|resume|backfill|status|task-schema``: operate continuous tasks.

Every command takes ``--env`` (default ``local``): ``local`` acts on the
SQLite task state of this machine, any other name on the deployed stack
``okeanos-<env>`` (see :mod:`okeanos.environments`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from collections import deque
from datetime import timedelta
from typing import Any, Deque, Dict, List, Optional, TextIO

from okeanos import control
from okeanos.cli.options import check_input, check_lastnhours, options_named
from okeanos.environments import LOCAL, Environment, open_environment
from okeanos.exceptions import ConfigurationError, WindowError
from okeanos.state.base import FAILING, TaskState
from okeanos.task import TaskMessage, json_schema
from okeanos.windows import Window, format_utc, parse_duration, parse_utc, utc_now

BACKFILL_POLL_SECONDS = 10.0
DEFAULT_MAX_CONCURRENT = 2
TASK_HELP = "task name, also the views' source (default: the job name with '_' replaced by '-')"


def register(subparsers) -> None:
    """Add the task commands."""
    start = subparsers.add_parser("start", help="start (or restart) a continuous task")
    start.add_argument("job", metavar="JOB", help="a registered job (see `okeanos jobs`)")
    start.add_argument("--task", metavar="NAME", help=TASK_HELP)
    start.add_argument("--input", metavar="URI", help="s3:// URI (or, locally, a directory) of the logs")
    start.add_argument("--format", metavar="FORMAT", help="input format, one of the job's formats")
    start.add_argument("--lastnhours", type=int, metavar="N", help=f"hours each cycle recomputes (default {control.DEFAULT_LASTNHOURS})")
    start.add_argument(
        "--interval", type=int, metavar="SECONDS",
        help=f"minimum time between the starts of two cycles, in seconds (default {control.DEFAULT_INTERVAL_SECONDS})",
    )
    _add_env(start)
    start.set_defaults(handler=_start)

    pause = subparsers.add_parser("pause", help="pause a task after its running step")
    pause.add_argument("task", metavar="TASK")
    _add_env(pause)
    pause.set_defaults(handler=_pause)

    resume = subparsers.add_parser("resume", help="resume a paused task from its last completed window")
    resume.add_argument("task", metavar="TASK")
    _add_env(resume)
    resume.set_defaults(handler=_resume)

    backfill = subparsers.add_parser("backfill", help="recompute a past window, one step per chunk")
    backfill.add_argument("job", metavar="JOB")
    backfill.add_argument("--from", dest="start", required=True, metavar="ISO", help="window start, UTC")
    backfill.add_argument("--to", dest="end", required=True, metavar="ISO", help="window end, UTC (exclusive)")
    backfill.add_argument("--chunk", default="1d", metavar="DURATION", help="window of one step, e.g. 6h or 1d (default 1d)")
    backfill.add_argument(
        "--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT, metavar="N",
        help=f"backfill steps in flight at once (default {DEFAULT_MAX_CONCURRENT}); "
        "the handler also caps them cluster-wide",
    )
    backfill.add_argument("--task", metavar="NAME", help=TASK_HELP)
    backfill.add_argument("--input", metavar="URI", help="logs location (default: the task's stored input)")
    backfill.add_argument("--format", metavar="FORMAT", help="input format (default: the task's stored format)")
    _add_env(backfill)
    backfill.set_defaults(handler=_backfill)

    status = subparsers.add_parser("status", help="show tasks: state, step, last window, freshness, failures")
    status.add_argument("task", nargs="?", metavar="TASK")
    status.add_argument("--json", action="store_true", help="print one JSON object per task")
    _add_env(status)
    status.set_defaults(handler=_status)

    schema = subparsers.add_parser("task-schema", help="print the JSON Schema of the task message")
    schema.set_defaults(handler=_schema)


def _add_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env", default=LOCAL, metavar="ENV",
        help="'local' (default) or a deployed environment, found from the stack okeanos-ENV",
    )


def _start(args: argparse.Namespace) -> int:
    check_input(args.input)
    check_lastnhours(args.lastnhours)
    env = open_environment(args.env)
    with options_named():
        message = control.build_task_message(
            env, args.job, task=args.task, input_uri=args.input, input_format=args.format,
            lastnhours=args.lastnhours, interval_seconds=args.interval,
        )
    message_id = control.start(env, message)
    if message_id is None:
        print(f"task {message.task} stored as active; run it with: {local_loop_command(message)}")
    else:
        print(f"task {message.task} started in {env.name} (message {message_id})")
    return 0


def local_loop_command(message: TaskMessage) -> str:
    """Return the ``okeanos local loop`` command that runs ``message``, each argument shell-quoted."""
    words = [
        "okeanos", "local", "loop", message.job,
        "--task", message.task,
        "--input", message.input_uri,
        "--format", message.input_format,
        "--lastnhours", str(message.window.lastnhours),
        "--interval", str(message.interval_seconds),
    ]
    return " ".join(shlex.quote(word) for word in words)


def _pause(args: argparse.Namespace) -> int:
    env = open_environment(args.env)
    state = control.pause(env, args.task)
    running = f"; step {state.step_id} finishes first" if state.step_id else ""
    print(f"task {state.key} paused{running}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    env = open_environment(args.env)
    state = control.resume(env, args.task)
    since = format_utc(state.last_completed.end) if state.last_completed else "the start of its window"
    where = "" if not env.is_local else "; run `okeanos local loop` to continue locally"
    print(f"task {state.key} resumed from {since}{where}")
    return 0


def _status(args: argparse.Namespace) -> int:
    env = open_environment(args.env)
    rows = control.status(env, args.task)
    if args.json:
        for row in rows:
            record = row.state.to_record()
            record.pop("message", None)
            record["recent_failures"] = json.loads(record["recent_failures"])
            record["freshness_seconds"] = row.freshness.total_seconds() if row.freshness is not None else None
            print(json.dumps(record, sort_keys=True))
        return 0
    print(format_status(rows, detail=args.task is not None))
    return 0


def format_status(rows: List[control.TaskStatus], *, detail: bool = False) -> str:
    """Render status rows as a table, with recent failures when ``detail`` is set."""
    header = ("TASK", "STATUS", "STEP", "STEP WINDOW", "LAST COMPLETED", "FRESHNESS", "FAILURES")
    table = [header]
    for row in rows:
        state = row.state
        table.append((
            state.key,
            state.status,
            state.step_id or "-",
            str(state.step_window) if state.step_window else "-",
            str(state.last_completed) if state.last_completed else "-",
            _duration(row.freshness),
            str(state.consecutive_failures),
        ))
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in table]
    if detail:
        for row in rows:
            for failure in row.state.recent_failures:
                lines.append(f"  {row.key}: {format_utc(failure.time)} {failure.step_id} {failure.reason}")
    return "\n".join(lines)


def _duration(value: Optional[timedelta]) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


# -- backfill ------------------------------------------------------------


def _backfill(args: argparse.Namespace) -> int:
    if args.max_concurrent < 1:
        raise ConfigurationError(f"--max-concurrent {args.max_concurrent} is invalid; use 1 or more")
    check_input(args.input)
    window = Window(parse_utc(args.start, "--from"), parse_utc(args.end, "--to"))
    try:
        chunk = parse_duration(args.chunk, "--chunk")
    except OverflowError as exc:
        raise WindowError(f"--chunk: {args.chunk!r} is too long; use at most the length of the window") from exc
    env = open_environment(args.env)
    with options_named():
        messages = control.backfill_messages(
            env, args.job, window, chunk, task=args.task, input_uri=args.input, input_format=args.format
        )
    if env.is_local and not args.verbose:
        # The handler logs one JSON line per event, which would break the progress bar.
        from okeanos_handler import app

        app.set_log_level(logging.WARNING)
    if env.is_local:
        failed = backfill_locally(env, messages, max_concurrent=args.max_concurrent)
    else:
        failed = backfill_deployed(env, messages, max_concurrent=args.max_concurrent)
    print(f"backfill of {len(messages)} chunk(s): {len(messages) - len(failed)} completed, {len(failed)} failed")
    for key in failed:
        print(f"  failed: {key} (see `okeanos status {key.split('@')[0]} --env {env.name}`)")
    return 1 if failed else 0


class ProgressBar:
    """A one-line progress bar on stderr, redrawn in place."""

    def __init__(self, total: int, *, stream: Optional[TextIO] = None, width: int = 30) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.width = width

    def show(self, done: int, failed: int, running: int) -> None:
        """Redraw the bar."""
        filled = int(self.width * (done + failed) / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done + failed}/{self.total} chunks, {running} running, {failed} failed")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        self.stream.write("\n")
        self.stream.flush()


def _chunk_key(message: TaskMessage) -> str:
    from okeanos_handler.steps import state_key

    return state_key(message)


def _chunk_outcome(state: Optional[TaskState], completed_before: Optional[str]) -> Optional[str]:
    """Return ``completed`` or ``failed`` once a chunk has ended, else ``None``."""
    if state is None or state.step_id is not None or state.claim_token is not None:
        return None
    if state.last_completed_step is not None and state.last_completed_step != completed_before:
        return "completed"
    if state.status == FAILING:
        return "failed"
    return None


def backfill_deployed(
    env: Environment, messages: List[TaskMessage], *, max_concurrent: int, poll_seconds: float = BACKFILL_POLL_SECONDS
) -> List[str]:
    """Publish chunks, at most ``max_concurrent`` in flight, until all ended; return the failed keys."""
    pending: Deque[TaskMessage] = deque(messages)
    in_flight: Dict[str, Optional[str]] = {}
    failed: List[str] = []
    done = 0
    bar = ProgressBar(len(messages))
    while pending or in_flight:
        while pending and len(in_flight) < max_concurrent:
            message = pending.popleft()
            key = _chunk_key(message)
            before = env.store.save_message(key, message.to_json(), status="active", now=utc_now())
            in_flight[key] = before.last_completed_step
            env.publish(message.to_json())
        for key in list(in_flight):
            outcome = _chunk_outcome(env.store.get(key), in_flight[key])
            if outcome is None:
                continue
            del in_flight[key]
            if outcome == "completed":
                done += 1
            else:
                failed.append(key)
        bar.show(done, len(failed), len(in_flight))
        if in_flight:
            time.sleep(poll_seconds)
    bar.close()
    return failed


def backfill_locally(
    env: Environment, messages: List[TaskMessage], *, max_concurrent: int, loop: Optional[Any] = None
) -> List[str]:
    """Run the chunks with the local loop, ``max_concurrent`` queued at a time; return the failed keys."""
    if loop is None:
        from okeanos.local.loop import LocalLoop

        loop = LocalLoop(store=env.store)  # type: ignore[arg-type]
    failed: List[str] = []
    done = 0
    bar = ProgressBar(len(messages))
    for first in range(0, len(messages), max_concurrent):
        batch = messages[first:first + max_concurrent]
        before = {}
        for message in batch:
            key = _chunk_key(message)
            before[key] = env.store.save_message(key, message.to_json(), status="active", now=utc_now()).last_completed_step
            loop.topic.publish(message.to_json())
        bar.show(done, len(failed), len(batch))
        loop.run()
        for key, completed_before in before.items():
            if _chunk_outcome(env.store.get(key), completed_before) == "completed":
                done += 1
            else:
                failed.append(key)
        bar.show(done, len(failed), 0)
    bar.close()
    return failed
