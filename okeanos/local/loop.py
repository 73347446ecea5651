"""The continuous loop on one machine: the AWS handler, a local topic, a local runner.

:class:`LocalLoop` wires the same handler function as in AWS
(``okeanos_handler.app.handler``) to an in-process :class:`LocalTopic` (for
SNS and the delay queue), a :class:`LocalRunner` (for EMR) and the SQLite
task-state store. It then delivers due task messages and runs the next step,
which reports its end back to the handler, in turn. It stops when no message
is left (the task was paused, or does not resubmit) or at a cycle limit.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

from okeanos.local.runner import REPO_ROOT, LocalRunner, LocalStep
from okeanos.local.topic import LocalTopic
from okeanos.state.base import ACTIVE, TaskState
from okeanos.state.sqlite import SqliteStateStore
from okeanos.task import TaskMessage
from okeanos.windows import utc_now

logger = logging.getLogger(__name__)

STATE_FILE = "tasks.sqlite"
LOCAL_SPARK_CONF = ("spark.sql.shuffle.partitions=4", "spark.ui.enabled=false")


def local_store(path: Optional[Path] = None) -> SqliteStateStore:
    """Open the local task-state store: ``path``, or ``tasks.sqlite`` in the state directory."""
    if path is None:
        from okeanos.settings import state_dir

        path = state_dir() / STATE_FILE
    return SqliteStateStore(path)


class SqliteDeadLetters:
    """The handler's dead-letter destination, as a table of the local state database."""

    def __init__(self, store: SqliteStateStore, *, clock: Optional[Callable[[], datetime]] = None) -> None:
        self._store = store
        self._clock = clock or utc_now

    def send(self, *, message_id: str, reason: str, body: str) -> None:
        """Append the message and reason to the dead-letter table."""
        self._store.add_dead_letter(message_id=message_id, reason=reason, body=body, now=self._clock())


@dataclass(frozen=True)
class Cycle:
    """One finished step of the local loop."""

    number: int
    step: LocalStep
    state: Optional[TaskState]


class LocalLoop:
    """The okeanos loop in one process.

    Parameters
    ----------
    store
        Task-state store; default: the SQLite file in the state directory.
    runner
        Step runner; default: a :class:`LocalRunner`.
    opensearch_url, index_prefix
        Passed to every step; defaults: the Spark job's own.
    retry_base_seconds, retry_max_seconds
        Backoff after a failed step; defaults 5 and 60 (shorter than in AWS,
        because a local run fails fast).
    """

    def __init__(
        self,
        *,
        store: Optional[SqliteStateStore] = None,
        runner: Optional[LocalRunner] = None,
        opensearch_url: Optional[str] = None,
        index_prefix: Optional[str] = None,
        retry_base_seconds: int = 5,
        retry_max_seconds: int = 60,
        max_consecutive_failures: int = 5,
    ) -> None:
        # The loop prints its own cycles; EMF metric lines on stdout would only interleave.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        from okeanos_handler import app
        from okeanos_handler.config import HandlerConfig
        from okeanos_handler.loop import LoopController

        self.store = store or local_store()
        self.runner = runner or LocalRunner()
        self.topic = LocalTopic()
        config = HandlerConfig(
            cluster_id=self.runner.cluster_id,
            job_package_uri=str(self.runner.job_package()),
            entry_script_uri=str(REPO_ROOT / "spark" / "okeanos_main.py"),
            opensearch_url=opensearch_url,
            index_prefix=index_prefix,
            retry_base_seconds=retry_base_seconds,
            retry_max_seconds=retry_max_seconds,
            requeue_delay_seconds=5,
            max_consecutive_failures=max_consecutive_failures,
            # Local inputs are small, and two cores are the common case.
            spark_conf=LOCAL_SPARK_CONF,
        )
        self.controller = LoopController(
            config=config,
            store=self.store,
            runner=self.runner,
            publisher=self.topic,
            dead_letters=SqliteDeadLetters(self.store),
        )
        app.use_controller(self.controller)
        self.topic.subscribe(app.handler)
        self.runner.subscribe(app.handler)

    def start(self, message: TaskMessage) -> None:
        """Store ``message`` as an active task and queue it."""
        from okeanos_handler.steps import state_key

        body = message.to_json()
        if not message.window.is_relative:
            self.topic.publish(body)
            return
        self.store.save_message(state_key(message), body, status=ACTIVE, now=utc_now())
        self.topic.publish(body)

    def run(
        self,
        *,
        max_cycles: Optional[int] = None,
        on_cycle: Optional[Callable[[Cycle], None]] = None,
        before_cycle: Optional[Callable[[int], None]] = None,
        stop: Optional[Callable[[], bool]] = None,
        poll_seconds: float = 0.5,
    ) -> int:
        """Run until no message is left, ``max_cycles`` steps finished or ``stop()`` is true.

        ``before_cycle(n)`` is called before the n-th step runs (tests add
        input there). Returns the number of cycles run.
        """
        from okeanos_handler.steps import parse_step_name

        cycles = 0
        while max_cycles is None or cycles < max_cycles:
            if stop is not None and stop():
                break
            self.topic.deliver_due()
            if self.runner.pending:
                if before_cycle is not None:
                    before_cycle(cycles + 1)
                step = self.runner.run_next()
                assert step is not None
                cycles += 1
                parsed = parse_step_name(step.name)
                state = self.store.get(parsed.key) if parsed is not None else None
                if on_cycle is not None:
                    on_cycle(Cycle(cycles, step, state))
                continue
            due = self.topic.next_due()
            if due is None:
                break
            wait = (due - utc_now()).total_seconds()
            if wait > 0:
                time.sleep(min(wait, poll_seconds))
        return cycles
