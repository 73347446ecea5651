"""Errors of the task-state store."""

from __future__ import annotations

from okeanos.exceptions import OkeanosError


class StateStoreError(OkeanosError):
    """The task-state store could not be read or written."""


class TaskNotFoundError(StateStoreError):
    """No state is stored for the task ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"task {key!r} has no stored state; start it with 'okeanos start' or check the name "
            "with 'okeanos status'"
        )
        self.key = key


class ConcurrentUpdateError(StateStoreError):
    """A record kept changing under a conditional write, ``attempts`` times in a row."""

    def __init__(self, key: str, attempts: int) -> None:
        super().__init__(f"task {key!r}: the state changed under {attempts} conditional writes in a row; retry")
        self.key = key
        self.attempts = attempts
