"""The task-state store: one record per task, shared by the handler, the CLI and local mode.

A record contains what the loop needs to submit exactly one step at a time and to
resume without skipping data:

- ``status``: ``active``, ``paused`` or ``failing`` (``failing`` still runs;
  it marks a task whose last ``max_failures`` steps all failed);
- the task message that started the loop (``message``, JSON), republished for
  each cycle;
- the claim (``claim_token``, ``claim_expires``): taken with a conditional
  write before EMR is called, so two invocations cannot both submit; a claim
  whose holder crashed expires after its lease;
- the current step (``step_id``, ``step_window``, ``step_submitted``);
- ``last_completed``: the window of the last step that completed;
- ``consecutive_failures`` and ``recent_failures`` (newest last, bounded).

Every write that decides who submits is conditional: :meth:`TaskStateStore.claim`,
:meth:`~TaskStateStore.record_step`, :meth:`~TaskStateStore.complete_step` and
:meth:`~TaskStateStore.fail_step`. The implementations are
:class:`okeanos.state.sqlite.SqliteStateStore` (local mode) and
:class:`okeanos.state.dynamodb.DynamoDbStateStore` (AWS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from okeanos.state.exceptions import ConcurrentUpdateError, TaskNotFoundError
from okeanos.windows import Window, format_utc, parse_utc

ACTIVE = "active"
PAUSED = "paused"
FAILING = "failing"
STATUSES = (ACTIVE, PAUSED, FAILING)

MAX_RECENT_FAILURES = 10
# Step failure reasons come from EMR event messages; they are cut so a record
# stays far below DynamoDB's 400 KB item limit.
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Failure:
    """One failed step: when it ended, which step and why."""

    time: datetime
    step_id: str
    reason: str

    def to_dict(self) -> Dict[str, str]:
        """Return the stored form."""
        return {"time": format_utc(self.time), "step_id": self.step_id, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Failure":
        """Build from the stored form."""
        return cls(parse_utc(data["time"]), str(data["step_id"]), str(data["reason"]))


@dataclass(frozen=True)
class TaskState:
    """The stored state of one task (or of one fixed-window run, keyed ``task@from``)."""

    key: str
    status: str = ACTIVE
    message: Optional[str] = None
    claim_token: Optional[str] = None
    claim_expires: Optional[datetime] = None
    step_id: Optional[str] = None
    step_window: Optional[Window] = None
    step_submitted: Optional[datetime] = None
    last_completed: Optional[Window] = None
    last_completed_step: Optional[str] = None
    consecutive_failures: int = 0
    recent_failures: Tuple[Failure, ...] = field(default_factory=tuple)
    updated: Optional[datetime] = None
    # Incremented by every write; each write is conditional on the version it read.
    version: int = 0

    @property
    def task(self) -> str:
        """The task name: the key without a ``@from`` suffix."""
        return self.key.split("@", 1)[0]

    def is_claimed(self, now: datetime) -> bool:
        """Return whether an unexpired claim is in place."""
        return self.claim_token is not None and self.claim_expires is not None and self.claim_expires > now

    def to_record(self) -> Dict[str, Any]:
        """Return the state as flat, JSON-ready values (``None`` for unset fields)."""
        return {
            "task": self.key,
            "status": self.status,
            "message": self.message,
            "claim_token": self.claim_token,
            "claim_expires": _time(self.claim_expires),
            "step_id": self.step_id,
            "step_window": _window_text(self.step_window),
            "step_submitted": _time(self.step_submitted),
            "last_completed": _window_text(self.last_completed),
            "last_completed_step": self.last_completed_step,
            "consecutive_failures": self.consecutive_failures,
            "recent_failures": json.dumps([f.to_dict() for f in self.recent_failures]),
            "updated": _time(self.updated),
            "version": self.version,
        }

    @classmethod
    def from_record(cls, record: Dict[str, Any]) -> "TaskState":
        """Build from the flat values of :meth:`to_record`."""
        failures = json.loads(record.get("recent_failures") or "[]")
        return cls(
            key=str(record["task"]),
            status=str(record.get("status") or ACTIVE),
            message=record.get("message"),
            claim_token=record.get("claim_token"),
            claim_expires=_parse_time(record.get("claim_expires")),
            step_id=record.get("step_id"),
            step_window=_parse_window(record.get("step_window")),
            step_submitted=_parse_time(record.get("step_submitted")),
            last_completed=_parse_window(record.get("last_completed")),
            last_completed_step=record.get("last_completed_step"),
            consecutive_failures=int(record.get("consecutive_failures") or 0),
            recent_failures=tuple(Failure.from_dict(item) for item in failures),
            updated=_parse_time(record.get("updated")),
            version=int(record.get("version") or 0),
        )


def after_completion(state: TaskState, now: datetime) -> TaskState:
    """Return ``state`` after its current step completed: window recorded, failures reset."""
    completed = state.step_window
    if state.last_completed is not None and completed is not None:
        # An older window completing late (a backfill, say) must not move
        # the resume point backwards.
        if completed.end < state.last_completed.end:
            completed = state.last_completed
    return replace(
        state,
        status=PAUSED if state.status == PAUSED else ACTIVE,
        step_id=None,
        step_window=None,
        step_submitted=None,
        last_completed=completed or state.last_completed,
        last_completed_step=state.step_id,
        consecutive_failures=0,
        updated=now,
    )


def after_failure(state: TaskState, reason: str, now: datetime, max_failures: int) -> TaskState:
    """Return ``state`` after its current step failed: counted, recorded, maybe ``failing``."""
    count = state.consecutive_failures + 1
    failure = Failure(now, state.step_id or "", reason[:MAX_REASON_CHARS])
    failures = (state.recent_failures + (failure,))[-MAX_RECENT_FAILURES:]
    status = state.status
    if status != PAUSED:
        status = FAILING if count >= max_failures else status
    return replace(
        state,
        status=status,
        step_id=None,
        step_window=None,
        step_submitted=None,
        consecutive_failures=count,
        recent_failures=failures,
        updated=now,
    )


class TaskStateStore(Protocol):
    """Storage of :class:`TaskState` records with the conditional writes the loop needs."""

    def get(self, key: str) -> Optional[TaskState]:
        """Return the state of ``key``, or ``None`` if the task was never seen."""

    def list(self) -> List[TaskState]:
        """Return every stored state, sorted by key."""

    def save_message(self, key: str, message: str, *, status: Optional[str] = None, now: datetime) -> TaskState:
        """Store the task message of ``key`` (creating the record), and set ``status`` if given.

        Setting ``active`` also resets the failure count: the task starts afresh.
        """

    def set_status(self, key: str, status: str, *, now: datetime) -> TaskState:
        """Set the status of an existing task; raise :class:`TaskNotFoundError` if there is none."""

    def claim(self, key: str, token: str, *, now: datetime, lease_seconds: int) -> Optional[TaskState]:
        """Take the claim on ``key`` if it is not paused, has no step and no live claim.

        Returns the claimed state, or ``None`` when another holder or a step is in the way.
        """

    def release(self, key: str, token: str, *, now: datetime) -> None:
        """Drop the claim ``token`` on ``key`` (no effect if it is no longer held)."""

    def record_step(
        self, key: str, token: str, *, step_id: str, window: Window, message: str, now: datetime
    ) -> bool:
        """Turn the claim ``token`` into the current step; ``False`` if the claim was lost."""

    def complete_step(self, key: str, step_id: str, *, now: datetime) -> Optional[TaskState]:
        """Record that ``step_id`` completed; ``None`` if it is not the current step."""

    def fail_step(
        self, key: str, step_id: str, *, reason: str, now: datetime, max_failures: int
    ) -> Optional[TaskState]:
        """Record that ``step_id`` failed; ``None`` if it is not the current step."""


class VersionedStateStore:
    """The store operations, built on two primitives that subclasses provide.

    ``_load(key)`` reads a record; ``_write(state, expected_version)`` writes it
    only if the stored version still equals ``expected_version`` (0: no record
    yet) and returns whether it did. Every operation reads, decides in Python,
    and writes conditionally, retrying when another writer got there first.
    """

    max_attempts = 5

    def _load(self, key: str) -> Optional[TaskState]:
        raise NotImplementedError

    def _write(self, state: TaskState, expected_version: int) -> bool:
        raise NotImplementedError

    def _mutate(self, key: str, change: Callable[[Optional[TaskState]], Optional[TaskState]]) -> Optional[TaskState]:
        """Apply ``change`` to the record of ``key``; ``None`` from it means "write nothing"."""
        for _ in range(self.max_attempts):
            current = self._load(key)
            new = change(current)
            if new is None:
                return None
            expected = current.version if current is not None else 0
            new = replace(new, version=expected + 1)
            if self._write(new, expected):
                return new
        raise ConcurrentUpdateError(key, self.max_attempts)

    def get(self, key: str) -> Optional[TaskState]:
        return self._load(key)

    def save_message(self, key: str, message: str, *, status: Optional[str] = None, now: datetime) -> TaskState:
        def change(state: Optional[TaskState]) -> TaskState:
            base = state or TaskState(key=key)
            failures = 0 if status == ACTIVE else base.consecutive_failures
            return replace(
                base, message=message, status=status or base.status, consecutive_failures=failures, updated=now
            )

        result = self._mutate(key, change)
        assert result is not None
        return result

    def set_status(self, key: str, status: str, *, now: datetime) -> TaskState:
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is invalid; use one of {', '.join(STATUSES)}")

        def change(state: Optional[TaskState]) -> TaskState:
            if state is None:
                raise TaskNotFoundError(key)
            return replace(state, status=status, updated=now)

        result = self._mutate(key, change)
        assert result is not None
        return result

    def claim(self, key: str, token: str, *, now: datetime, lease_seconds: int) -> Optional[TaskState]:
        def change(state: Optional[TaskState]) -> Optional[TaskState]:
            base = state or TaskState(key=key)
            if base.status == PAUSED or base.step_id is not None or base.is_claimed(now):
                return None
            expires = now + timedelta(seconds=lease_seconds)
            return replace(base, claim_token=token, claim_expires=expires, updated=now)

        return self._mutate(key, change)

    def release(self, key: str, token: str, *, now: datetime) -> None:
        def change(state: Optional[TaskState]) -> Optional[TaskState]:
            if state is None or state.claim_token != token:
                return None
            return replace(state, claim_token=None, claim_expires=None, updated=now)

        self._mutate(key, change)

    def record_step(
        self, key: str, token: str, *, step_id: str, window: Window, message: str, now: datetime
    ) -> bool:
        def change(state: Optional[TaskState]) -> Optional[TaskState]:
            # The claim may have expired meanwhile; the step is still ours
            # unless someone else claimed or recorded a step since.
            if state is None or state.claim_token != token or state.step_id is not None:
                return None
            return replace(
                state,
                message=message if state.message is None else state.message,
                claim_token=None,
                claim_expires=None,
                step_id=step_id,
                step_window=window,
                step_submitted=now,
                updated=now,
            )

        return self._mutate(key, change) is not None

    def complete_step(self, key: str, step_id: str, *, now: datetime) -> Optional[TaskState]:
        def change(state: Optional[TaskState]) -> Optional[TaskState]:
            if state is None or state.step_id != step_id:
                return None
            return after_completion(state, now)

        return self._mutate(key, change)

    def fail_step(
        self, key: str, step_id: str, *, reason: str, now: datetime, max_failures: int
    ) -> Optional[TaskState]:
        def change(state: Optional[TaskState]) -> Optional[TaskState]:
            if state is None or state.step_id != step_id:
                return None
            return after_failure(state, reason, now, max_failures)

        return self._mutate(key, change)


def _time(moment: Optional[datetime]) -> Optional[str]:
    return format_utc(moment) if moment is not None else None


def _parse_time(text: Optional[str]) -> Optional[datetime]:
    return parse_utc(text) if text else None


def _window_text(window: Optional[Window]) -> Optional[str]:
    if window is None:
        return None
    return f"{format_utc(window.start)}/{format_utc(window.end)}"


def _parse_window(text: Optional[str]) -> Optional[Window]:
    if not text:
        return None
    start, end = text.split("/", 1)
    return Window(parse_utc(start), parse_utc(end))
