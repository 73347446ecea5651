"""Per-task state of the continuous loop, behind one interface.

:class:`~okeanos.state.base.TaskStateStore` is the interface;
:mod:`okeanos.state.sqlite` (local mode) and :mod:`okeanos.state.dynamodb`
(AWS) implement it. The DynamoDB module imports boto3 only when it builds a
client, so importing this package stays cheap.
"""

from __future__ import annotations

from okeanos.state.base import ACTIVE, FAILING, PAUSED, STATUSES, Failure, TaskState, TaskStateStore
from okeanos.state.exceptions import ConcurrentUpdateError, StateStoreError, TaskNotFoundError

__all__ = [
    "ACTIVE",
    "FAILING",
    "PAUSED",
    "STATUSES",
    "ConcurrentUpdateError",
    "Failure",
    "StateStoreError",
    "TaskNotFoundError",
    "TaskState",
    "TaskStateStore",
]
