"""Task operations behind ``okeanos start|pause|resume|backfill|status``.

Each function takes an :class:`~okeanos.environments.Environment`, so the
same code acts on the local SQLite store or on a deployed environment's
DynamoDB table and SNS topic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional

from okeanos.environments import Environment
from okeanos.exceptions import ConfigurationError
from okeanos.state.base import ACTIVE, PAUSED, TaskState
from okeanos.state.exceptions import TaskNotFoundError
from okeanos.task import Deployment, TaskMessage, TaskWindow, parse_task
from okeanos.windows import Window, split_window, utc_now

DEFAULT_LASTNHOURS = 2
DEFAULT_INTERVAL_SECONDS = 60

# Each backfill chunk is one task message, one state record and one Spark
# step, so a chunk far smaller than the window (1s over a day) would queue
# tens of thousands of steps; 10,000 is already a year of hourly chunks.
MAX_BACKFILL_CHUNKS = 10_000


def build_task_message(
    env: Environment,
    job: str,
    *,
    task: Optional[str] = None,
    input_uri: Optional[str] = None,
    input_format: Optional[str] = None,
    lastnhours: Optional[int] = None,
    interval_seconds: Optional[int] = None,
    jobs: Optional[List[str]] = None,
) -> TaskMessage:
    """Build the continuous task message of ``okeanos start``, validated like the handler does.

    Options left out are taken from the task's stored message when it has
    one (a restart), else from the defaults. A new task needs ``--input``
    and ``--format``.
    """
    name = task or job.replace("_", "-")
    stored = env.store.get(name)
    previous = parse_task(stored.message) if stored is not None and stored.message else None
    if input_uri is None and previous is not None:
        input_uri = previous.input_uri
    if input_uri is not None:
        input_uri = _resolve_input(env, input_uri)
    if input_format is None and previous is not None:
        input_format = previous.input_format
    missing = [option for option, value in (("--input", input_uri), ("--format", input_format)) if value is None]
    if missing:
        raise ConfigurationError(f"{' and '.join(missing)} required: task {name!r} has no stored message to take them from")
    if lastnhours is None:
        lastnhours = previous.window.lastnhours if previous is not None and previous.window.lastnhours else DEFAULT_LASTNHOURS
    if interval_seconds is None:
        interval_seconds = previous.interval_seconds if previous is not None else DEFAULT_INTERVAL_SECONDS
    body = {
        "version": 1,
        "task": name,
        "job": job,
        "input": {"uri": input_uri, "format": input_format},
        "window": {"runasof": "now", "lastnhours": lastnhours},
        "resubmit": True,
        "interval_seconds": interval_seconds,
    }
    deployment = Deployment(cluster_id=env.cluster_id, topic_arn=env.topic_arn, state_table=env.state_table)
    if deployment.to_dict():
        body["deployment"] = deployment.to_dict()
    if jobs is None:
        from okeanos_spark.registry import job_names

        jobs = job_names()
    return parse_task(body, jobs=jobs)


def _resolve_input(env: Environment, input_uri: str) -> str:
    """Return ``input_uri`` with a local path made absolute, as the handler expects."""
    if input_uri.startswith("s3://"):
        return input_uri
    if not env.is_local:
        raise ConfigurationError(
            f"--input: {input_uri!r} is not an s3:// URI; the {env.name} environment reads its logs from S3"
        )
    return str(Path(input_uri).expanduser().resolve())


def start(env: Environment, message: TaskMessage, *, now: Optional[datetime] = None) -> Optional[str]:
    """Store ``message`` as an active task and publish it; return the SNS message id (``None`` locally)."""
    env.store.save_message(message.task, message.to_json(), status=ACTIVE, now=now or utc_now())
    if env.is_local:
        return None
    return env.publish(message.to_json())


def pause(env: Environment, task: str, *, now: Optional[datetime] = None) -> TaskState:
    """Pause ``task``: its running step finishes, and no further step is submitted."""
    return env.store.set_status(task, PAUSED, now=now or utc_now())


def resume(env: Environment, task: str, *, now: Optional[datetime] = None) -> TaskState:
    """Resume ``task`` and (in a deployed environment) publish its stored message.

    The handler starts the next window at the end of the last completed one,
    so the cycles missed while paused are caught up, not skipped. The failure
    count is kept; the next success resets it.
    """
    state = env.store.get(task)
    if state is None:
        raise TaskNotFoundError(task)
    if state.message is None:
        raise ConfigurationError(f"task {task!r} has no stored message; start it with 'okeanos start'")
    state = env.store.set_status(task, ACTIVE, now=now or utc_now())
    if not env.is_local:
        env.publish(state.message)
    return state


def backfill_messages(
    env: Environment,
    job: str,
    window: Window,
    chunk: timedelta,
    *,
    task: Optional[str] = None,
    input_uri: Optional[str] = None,
    input_format: Optional[str] = None,
    jobs: Optional[List[str]] = None,
) -> List[TaskMessage]:
    """Return one fixed-window task message per chunk of ``window``, oldest first.

    Raises
    ------
    ConfigurationError
        If ``window`` splits into more than :data:`MAX_BACKFILL_CHUNKS` chunks.
    """
    count = math.ceil((window.end - window.start) / chunk)
    if count > MAX_BACKFILL_CHUNKS:
        raise ConfigurationError(
            f"--chunk {_format_chunk(chunk)} splits {window} into {count} chunks, more than the "
            f"{MAX_BACKFILL_CHUNKS} allowed; use a larger --chunk"
        )
    template = build_task_message(
        env, job, task=task, input_uri=input_uri, input_format=input_format, interval_seconds=0, jobs=jobs
    )
    return [
        TaskMessage(
            task=template.task,
            job=template.job,
            input_uri=template.input_uri,
            input_format=template.input_format,
            window=TaskWindow.fixed(part),
            resubmit=False,
            interval_seconds=0,
            deployment=template.deployment,
        )
        for part in split_window(window, chunk)
    ]


def _format_chunk(chunk: timedelta) -> str:
    seconds = int(chunk.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class TaskStatus:
    """One row of ``okeanos status``."""

    state: TaskState
    freshness: Optional[timedelta]

    @property
    def key(self) -> str:
        """The task (or backfill ``task@from``) key."""
        return self.state.key


def status(env: Environment, task: Optional[str] = None, *, now: Optional[datetime] = None) -> List[TaskStatus]:
    """Return the status of ``task`` (and its backfills), or of every task."""
    moment = now or utc_now()
    states = env.store.list()
    if task is not None:
        states = [state for state in states if state.key == task or state.key.startswith(f"{task}@")]
        if not states:
            raise TaskNotFoundError(task)
    return [TaskStatus(state, freshness(state, moment)) for state in states]


def freshness(state: TaskState, now: datetime) -> Optional[timedelta]:
    """Return ``now`` minus the end of the last completed window (``None`` if none completed)."""
    if state.last_completed is None:
        return None
    return now - state.last_completed.end
