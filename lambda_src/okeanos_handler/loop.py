"""The loop controller: one task message in, at most one EMR step out; step events close the loop.

For a task message (from the topic or the delay queue):

1. validate it (an invalid one goes to the dead-letter destination with the reason);
2. wait if it is not due yet (a long ``interval_seconds`` or backoff);
3. claim the task with a conditional write, which fails for a paused task,
   a task that already has a step, and a task with a live claim (these
   get no step);
4. resolve the window (a loop that was paused catches up from the end of the
   last completed window) and build the step;
5. check the cluster accepts steps and has room, adopt a step that a crashed
   invocation submitted without recording it, else add the step;
6. record the step id and window, which releases the claim.

A failure in step 5 releases the claim and requeues the message with a delay.

For an ``EMR Step Status Change`` event of an okeanos step:

- COMPLETED: record the window, reset the failure count and, if the task
  resubmits and is not paused, send it again for the next cycle;
- FAILED, CANCELLED or INTERRUPTED: count the failure, mark the task
  ``failing`` after ``max_consecutive_failures`` in a row, and send it again
  after an exponential backoff (a one-off run, such as a backfill chunk,
  gives up at that count).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Collection, Optional

from okeanos.exceptions import TaskMessageError
from okeanos.state.base import FAILING, PAUSED, TaskState, TaskStateStore
from okeanos.task import TaskMessage, TaskWindow, parse_task
from okeanos.windows import Window, utc_now

from okeanos_handler.config import HandlerConfig
from okeanos_handler.events import StepStatusChange, TaskRecord
from okeanos_handler.exceptions import ClusterFullError, StepArgumentsError, SubmissionError
from okeanos_handler.publishing import DeadLetters, Publisher
from okeanos_handler.steps import (
    StepAssets,
    is_backfill,
    parse_step_name,
    spark_submit_args,
    state_key,
    step_name,
)
from okeanos_handler.submission import StepRunner, task_from_args  # noqa: F401

logger = logging.getLogger(__name__)

# Steps get their arguments without a shell, so these characters would be
# harmless there. They are rejected anyway: no log location needs them, and a
# location that contains them is more likely an injection attempt than a path.
FAILED_STATES = ("FAILED", "CANCELLED", "INTERRUPTED")
RUNNING_STATES = ("PENDING", "RUNNING", "CANCEL_PENDING")

# Outcomes of one record, returned for callers and tests.
SUBMITTED = "submitted"
ADOPTED = "adopted"
REJECTED = "rejected"
PAUSED_SKIPPED = "paused"
DUPLICATE = "duplicate"
REQUEUED = "requeued"
WAITING = "waiting"
IGNORED = "ignored"
COMPLETED = "completed"
FAILED = "failed"


class NullMetrics:
    """Metrics sink that drops everything (for callers without Powertools metrics)."""

    def add_metric(self, name: str, unit: str, value: float) -> None:
        """Drop the metric."""


@dataclass(frozen=True)
class StepOutcome:
    """Outcome of a step event, with the task state after it."""

    outcome: str
    state: Optional[TaskState] = None
    resubmitted: bool = False


class LoopController:
    """Decides, for each record, whether to submit, requeue, reject or resubmit.

    Parameters
    ----------
    config
        Settings (cluster id, asset locations, limits).
    store
        The task-state store.
    runner
        The cluster: :class:`~okeanos_handler.submission.EmrSubmitter` in AWS,
        :class:`okeanos.local.runner.LocalRunner` locally.
    publisher
        Sends a task message for a later cycle (topic or delay queue).
    dead_letters
        Keeps invalid messages with the reason.
    jobs
        Registered job names; default :func:`okeanos_spark.registry.job_names`.
    metrics
        Object with ``add_metric(name=, unit=, value=)``, such as Powertools ``Metrics``.
    clock
        Returns the current UTC time.
    """

    def __init__(
        self,
        *,
        config: HandlerConfig,
        store: TaskStateStore,
        runner: StepRunner,
        publisher: Publisher,
        dead_letters: DeadLetters,
        jobs: Optional[Collection[str]] = None,
        metrics: Any = None,
        clock: Optional[Callable[[], datetime]] = None,
    ) -> None:
        if jobs is None:
            from okeanos_spark.registry import job_names

            jobs = job_names()
        self.config = config
        self.store = store
        self.runner = runner
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.jobs = frozenset(jobs)
        self.metrics = metrics or NullMetrics()
        self.clock = clock or utc_now
        self.assets = StepAssets(
            job_package_uri=config.job_package_uri,
            entry_script_uri=config.entry_script_uri,
            opensearch_url=config.opensearch_url,
            index_prefix=config.index_prefix,
            spark_conf=config.spark_conf,
        )

    # -- task messages -------------------------------------------------

    def handle_task(self, record: TaskRecord) -> str:
        """Handle one task message; return the outcome (``submitted``, ``rejected``...)."""
        try:
            message = self.validate(record.body)
        except TaskMessageError as exc:
            return self._reject(record, str(exc))

        now = self.clock()
        if record.not_before is not None and record.not_before > now:
            delay = int((record.not_before - now).total_seconds()) + 1
            self.publisher.publish(record.body, delay_seconds=delay, attempt=record.attempt)
            logger.info("task %s is due at %s; waiting %d s more", message.task, record.not_before, delay)
            return WAITING

        key = state_key(message)
        token = uuid.uuid4().hex
        claimed = self.store.claim(key, token, now=now, lease_seconds=self.config.claim_lease_seconds)
        if claimed is None:
            claimed = self._claim_after_reconciling(key, token, now)
            if claimed is None:
                return self._skip_busy(key, record)
        return self._submit(record, message, key, token, claimed)

    def validate(self, body: str) -> TaskMessage:
        """Parse ``body`` and check it may run here; raise :class:`TaskMessageError` naming the field."""
        from okeanos_spark.registry import get_job

        message = parse_task(body, jobs=self.jobs)
        formats = get_job(message.job).formats
        if message.input_format not in formats:
            raise TaskMessageError(
                "input.format",
                f"{message.input_format!r} is not a format of job {message.job}; use one of: {', '.join(formats)}",
            )
        # Only the local runner reads local files; an EMR step given a local
        # path would read the cluster node's own disk.
        if not getattr(self.runner, "reads_local_paths", False) and not message.input_uri.startswith("s3://"):
            raise TaskMessageError(
                "input.uri", f"{message.input_uri!r} is a local path; a deployed task reads an s3:// location"
            )
        named_cluster = message.deployment.cluster_id
        if named_cluster is not None and named_cluster != self.runner.cluster_id:
            raise TaskMessageError(
                "deployment.cluster_id",
                f"names cluster {named_cluster} but this handler submits to {self.runner.cluster_id}",
            )
        return message

    def _submit(self, record: TaskRecord, message: TaskMessage, key: str, token: str, claimed: TaskState) -> str:
        now = self.clock()
        window = resolve_window(message, claimed, now)
        step_message = message.with_window(TaskWindow.fixed(window))
        name = str(step_name(message, window))
        try:
            args = spark_submit_args(step_message, self.assets)
        except StepArgumentsError as exc:
            self.store.release(key, token, now=now)
            return self._reject(record, f"input.uri: {exc}")

        try:
            self.runner.check_cluster()
            active = self.runner.active_steps()
            orphan = self._find_orphan(key, claimed, active)
            if orphan is not None:
                step_id, window = orphan
                outcome = ADOPTED
            else:
                self._check_capacity(message, active)
                step_id = self.runner.add_step(name, args)
                outcome = SUBMITTED
        except SubmissionError as exc:
            self.store.release(key, token, now=self.clock())
            return self._requeue(record, message, exc)

        recorded = self.store.record_step(
            key, token, step_id=step_id, window=window, message=record.body, now=self.clock()
        )
        if not recorded:
            # NOTE: the claim expired while this invocation was submitting, and
            # another one claimed the task. Both steps run, and the event of
            # this one is ignored because it does not match the current step.
            # A claim lease above the function timeout rules this out.
            logger.error("task %s: step %s was submitted but the claim was lost; it runs unrecorded", key, step_id)
            self.metrics.add_metric(name="ClaimsLost", unit="Count", value=1)
            return outcome
        self.metrics.add_metric(name="StepsSubmitted" if outcome == SUBMITTED else "StepsAdopted", unit="Count", value=1)
        logger.info("task %s: step %s %s for window %s", key, step_id, outcome, window)
        return outcome

    def _claim_after_reconciling(self, key: str, token: str, now: datetime) -> Optional[TaskState]:
        """Claim a task whose recorded step ended without its event reaching the loop.

        A lost or undelivered EMR event would otherwise block the task for
        good: every message would see the step as still running.
        """
        state = self.store.get(key)
        if state is None or state.step_id is None or state.status == PAUSED:
            return None
        try:
            step_state = self.runner.step_state(state.step_id)
        except SubmissionError as exc:
            logger.warning("task %s: state of step %s unknown (%s)", key, state.step_id, exc)
            return None
        if step_state in RUNNING_STATES:
            return None
        logger.warning("task %s: step %s is %s but no event recorded it; recording it now", key, state.step_id, step_state)
        self.handle_step_change(
            StepStatusChange(
                event_id=f"reconcile-{token}",
                cluster_id=self.runner.cluster_id,
                step_id=state.step_id,
                name="",
                state=step_state,
                message=f"found {step_state} when a new message arrived",
            ),
            key=key,
            resubmit=False,
        )
        return self.store.claim(key, token, now=now, lease_seconds=self.config.claim_lease_seconds)

    def _find_orphan(self, key: str, claimed: TaskState, active) -> Optional[tuple]:
        """Return ``(step_id, window)`` of an active step of ``key`` that the store does not know.

        Such a step was added by an invocation that crashed before recording
        it; the claim it held has since expired.
        """
        for step in active:
            parsed = parse_step_name(step.name)
            if parsed is None or parsed.key != key or step.step_id == claimed.step_id:
                continue
            task = self.runner.step_task(step.step_id)
            if task is None:
                continue
            return step.step_id, task.window.resolve()
        return None

    def _check_capacity(self, message: TaskMessage, active) -> None:
        if len(active) >= self.config.max_active_steps:
            raise ClusterFullError(
                f"cluster {self.runner.cluster_id} has {len(active)} PENDING or RUNNING steps, "
                f"the maximum is {self.config.max_active_steps}"
            )
        if is_backfill(message):
            backfills = sum(1 for step in active if (parse_step_name(step.name) or _NOT_OURS).backfill)
            if backfills >= self.config.max_backfill_steps:
                raise ClusterFullError(
                    f"cluster {self.runner.cluster_id} runs {backfills} backfill steps, "
                    f"the maximum is {self.config.max_backfill_steps}"
                )

    def _requeue(self, record: TaskRecord, message: TaskMessage, error: SubmissionError) -> str:
        attempt = record.attempt + 1
        if attempt > self.config.max_requeues:
            return self._reject(record, f"deployment.cluster_id: not submitted after {record.attempt} requeues: {error}")
        delay = self.config.requeue_delay_seconds
        self.publisher.publish(record.body, delay_seconds=delay, attempt=attempt)
        metric = "ClusterFull" if isinstance(error, ClusterFullError) else "SubmissionsRequeued"
        self.metrics.add_metric(name=metric, unit="Count", value=1)
        logger.warning("task %s requeued for %d s (attempt %d): %s", message.task, delay, attempt, error)
        return REQUEUED

    def _reject(self, record: TaskRecord, reason: str) -> str:
        logger.error("message %s rejected: %s", record.message_id, reason)
        self.dead_letters.send(message_id=record.message_id, reason=reason, body=record.body)
        self.metrics.add_metric(name="MessagesRejected", unit="Count", value=1)
        return REJECTED

    def _skip_paused(self, key: str) -> str:
        logger.info("task %s is paused; nothing submitted", key)
        self.metrics.add_metric(name="PausedSkipped", unit="Count", value=1)
        return PAUSED_SKIPPED

    def _skip_busy(self, key: str, record: TaskRecord) -> str:
        state = self.store.get(key)
        if state is not None and state.status == PAUSED:
            return self._skip_paused(key)
        current = state.step_id if state is not None else None
        logger.info(
            "task %s already has step %s (or a submission in progress); message %s submits nothing",
            key, current or "being submitted", record.message_id,
        )
        self.metrics.add_metric(name="DuplicatesSkipped", unit="Count", value=1)
        return DUPLICATE

    # -- step events ---------------------------------------------------

    def handle_step_change(
        self, change: StepStatusChange, *, key: Optional[str] = None, resubmit: bool = True
    ) -> StepOutcome:
        """Handle an ``EMR Step Status Change``; ``key`` skips name matching (reconciliation)."""
        if change.cluster_id != self.runner.cluster_id:
            logger.debug("step %s is on cluster %s, not ours", change.step_id, change.cluster_id)
            return StepOutcome(IGNORED)
        if key is None:
            parsed = parse_step_name(change.name)
            if parsed is None:
                logger.debug("step %s (%r) is not an okeanos step", change.step_id, change.name)
                return StepOutcome(IGNORED)
            key = parsed.key
        if change.state in RUNNING_STATES:
            return StepOutcome(IGNORED)

        now = self.clock()
        before = self.store.get(key)
        if change.state == "COMPLETED":
            state = self.store.complete_step(key, change.step_id, now=now)
            if state is None:
                return self._ignore_unknown(key, change, before)
            self.metrics.add_metric(name="StepsCompleted", unit="Count", value=1)
            logger.info("task %s: step %s completed window %s", key, change.step_id, state.last_completed)
            if not resubmit:
                return StepOutcome(COMPLETED, state)
            delay = self._interval_delay(state, before, now)
            return StepOutcome(COMPLETED, state, self._next_cycle(state, delay, "next cycle"))

        if change.state in FAILED_STATES:
            state = self.store.fail_step(
                key,
                change.step_id,
                reason=f"{change.state}: {change.message}".strip(),
                now=now,
                max_failures=self.config.max_consecutive_failures,
            )
            if state is None:
                return self._ignore_unknown(key, change, before)
            self.metrics.add_metric(name="StepFailures", unit="Count", value=1)
            logger.error(
                "task %s: step %s %s (%d in a row): %s",
                key, change.step_id, change.state, state.consecutive_failures, change.message,
            )
            if state.status == FAILING and state.consecutive_failures == self.config.max_consecutive_failures:
                self.metrics.add_metric(name="TasksFailing", unit="Count", value=1)
                logger.error("task %s is failing: %d consecutive step failures", key, state.consecutive_failures)
            if not resubmit:
                return StepOutcome(FAILED, state)
            continuous = state.message is not None and parse_task(state.message).resubmit
            if not continuous and state.consecutive_failures >= self.config.max_consecutive_failures:
                # A one-off run (a backfill chunk, say) is retried a bounded number of times.
                logger.error(
                    "task %s gave up after %d failures; run it again (okeanos backfill) once the cause is fixed",
                    key, state.consecutive_failures,
                )
                return StepOutcome(FAILED, state)
            delay = self.backoff_seconds(state.consecutive_failures)
            return StepOutcome(FAILED, state, self._next_cycle(state, delay, "retry", force=True))

        logger.warning("task %s: step %s reported unknown state %r", key, change.step_id, change.state)
        return StepOutcome(IGNORED)

    def backoff_seconds(self, failures: int) -> int:
        """Return the delay before retrying after ``failures`` consecutive failures."""
        delay = self.config.retry_base_seconds * 2 ** max(failures - 1, 0)
        return int(min(delay, self.config.retry_max_seconds))

    def _interval_delay(self, state: TaskState, before: Optional[TaskState], now: datetime) -> int:
        if state.message is None:
            return 0
        interval = parse_task(state.message).interval_seconds
        submitted = before.step_submitted if before is not None else None
        if submitted is None:
            return interval
        # interval_seconds is the least time between the starts of two cycles.
        return max(0, int(interval - (now - submitted).total_seconds()))

    def _next_cycle(self, state: TaskState, delay: int, purpose: str, *, force: bool = False) -> bool:
        if state.status == PAUSED:
            logger.info("task %s is paused; the loop stops here", state.key)
            return False
        if state.message is None:
            logger.error("task %s has no stored message; the loop cannot continue", state.key)
            return False
        message = parse_task(state.message)
        if not (message.resubmit or force):
            return False
        self.publisher.publish(state.message, delay_seconds=delay)
        self.metrics.add_metric(name="CyclesScheduled", unit="Count", value=1)
        logger.info("task %s: %s in %d s", state.key, purpose, delay)
        return True

    def _ignore_unknown(self, key: str, change: StepStatusChange, before: Optional[TaskState]) -> StepOutcome:
        current = before.step_id if before is not None else None
        logger.info(
            "task %s: event %s for step %s ignored; the current step is %s (duplicate or stale event)",
            key, change.event_id, change.step_id, current,
        )
        self.metrics.add_metric(name="StepEventsIgnored", unit="Count", value=1)
        return StepOutcome(IGNORED, before)


def resolve_window(message: TaskMessage, state: Optional[TaskState], now: datetime) -> Window:
    """Return the window the next step of ``message`` covers.

    A "last N hours as of now" loop whose last completed window ended before
    the start of that span (it was paused, or failing) starts at that end
    instead, so no data between the two is skipped.
    """
    window = message.window.resolve(now)
    relative_to_now = message.window.is_relative and message.window.runasof is None
    last = state.last_completed if state is not None else None
    if relative_to_now and last is not None and last.end < window.start:
        return Window(last.end, window.end)
    return window


class _NotOurs:
    backfill = False


_NOT_OURS = _NotOurs()
