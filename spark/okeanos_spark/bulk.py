"""A bounded, retrying writer of OpenSearch ``_bulk`` requests.

Documents are buffered and sent as ``index`` operations, so writing a
document again with the same id overwrites it. ``delete`` operations carry
the sequence number and primary term that the caller read, so a document
changed since is left alone (counted in :attr:`BulkResult.conflicts`) and a
document already gone is not an error. A request is sent when adding
the next document would exceed either bound: :attr:`BulkSettings.max_bytes`
of request body or :attr:`BulkSettings.max_actions` operations. A single
document larger than ``max_bytes`` is sent alone.

Retries, with exponential backoff and jitter, up to
:attr:`BulkSettings.max_attempts` attempts per request:

- the whole request, when OpenSearch responds 429 (too many requests) or the
  connection fails or times out;
- only the items that came back with status 429, when the request succeeded
  but some of its items were rejected for back-pressure.

Any other item error (a document rejected by the strict mapping, say) is
not retried: it is recorded as an :class:`ItemFailure`. When retries run out,
the connection error is raised as :class:`BulkConnectionError` and 429 items
are recorded as failures.

Pure Python with opensearch-py, no pyspark: the Spark sink runs one writer
per partition on the executors, and tests drive it with a fake client.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from okeanos.exceptions import OkeanosError

logger = logging.getLogger(__name__)

MiB = 1024 * 1024

# Failures kept per writer. The count of failures is exact; the details of
# the first few are enough to name the cause in an error message.
MAX_FAILURE_DETAILS = 10


class BulkConnectionError(OkeanosError):
    """OpenSearch could not be reached (or kept responding 429) after every attempt."""


@dataclass(frozen=True)
class BulkSettings:
    """Bounds and retry policy of bulk requests.

    Attributes
    ----------
    max_bytes
        Maximum body size of one request in bytes, 5 MiB by default.
        Amazon OpenSearch Service accepts 10 to 100 MiB depending on the
        instance type, and OpenSearch's own guidance is to start at 5 to 15 MiB.
    max_actions
        Maximum number of operations in one request, 1,000 by default.
    max_attempts
        Attempts per request (the first one included), 5 by default.
    initial_backoff_seconds
        Delay before the first retry, 0.5 s by default. It doubles with each
        retry, up to ``max_backoff_seconds`` (30 s by default), and the actual
        delay is drawn between half and all of it.
    request_timeout_seconds
        Timeout of one bulk request, 60 s by default.
    """

    max_bytes: int = 5 * MiB
    max_actions: int = 1000
    max_attempts: int = 5
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    request_timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_actions", "max_attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BulkSettings.{name} must be a whole number >= 1, got {value!r}")

    def backoff_seconds(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """Return the delay before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (retry - 1))
        return ceiling / 2 + draw() * ceiling / 2


@dataclass(frozen=True)
class ItemFailure:
    """A document that OpenSearch did not index: its id, the item status and the reason."""

    doc_id: str
    status: int
    reason: str

    def to_dict(self) -> Dict[str, Any]:
        """Return the failure as a plain dict, to cross from executors to the driver."""
        return {"doc_id": self.doc_id, "status": self.status, "reason": self.reason}


@dataclass
class BulkResult:
    """Counts of one writer: operations added, documents indexed or deleted, failures, requests."""

    added: int = 0
    indexed: int = 0
    deleted: int = 0
    conflicts: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    failures: List[ItemFailure] = field(default_factory=list)


class BulkWriter:
    """Buffer ``index`` operations and send them in bounded, retried bulk requests.

    Parameters
    ----------
    client
        An ``opensearchpy.OpenSearch`` client.
    index
        Name of the index to write to.
    settings
        Bounds and retry policy; the defaults of :class:`BulkSettings` if not given.
    sleep
        Function that waits a number of seconds; tests pass a recorder.
    """

    def __init__(
        self,
        client: Any,
        index: str,
        *,
        settings: Optional[BulkSettings] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._index = index
        self._settings = settings or BulkSettings()
        self._sleep = sleep
        self._buffer: List[Tuple[str, bytes]] = []
        self._buffer_bytes = 0
        self.result = BulkResult()

    def add(self, doc_id: str, document: Dict[str, Any]) -> None:
        """Queue one ``index`` operation, sending the buffered ones first if it would exceed a bound."""
        action = json.dumps({"index": {"_index": self._index, "_id": doc_id}}, separators=(",", ":"))
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        self._queue(doc_id, (action + "\n" + body + "\n").encode("utf-8"))

    def delete(self, doc_id: str, *, if_seq_no: int, if_primary_term: int) -> None:
        """Queue one ``delete`` operation that applies only if the document is unchanged."""
        action = {
            "_index": self._index,
            "_id": doc_id,
            "if_seq_no": if_seq_no,
            "if_primary_term": if_primary_term,
        }
        self._queue(doc_id, (json.dumps({"delete": action}, separators=(",", ":")) + "\n").encode("utf-8"))

    def _queue(self, doc_id: str, operation: bytes) -> None:
        too_many = len(self._buffer) + 1 > self._settings.max_actions
        too_big = self._buffer_bytes + len(operation) > self._settings.max_bytes
        if self._buffer and (too_many or too_big):
            self.flush()
        self._buffer.append((doc_id, operation))
        self._buffer_bytes += len(operation)
        self.result.added += 1

    def flush(self) -> None:
        """Send the buffered operations, retrying as the module docstring describes."""
        pending = self._buffer
        self._buffer = []
        self._buffer_bytes = 0
        attempt = 1
        while pending:
            pending = self._send(pending, attempt)
            if not pending:
                break
            if attempt >= self._settings.max_attempts:
                for doc_id, _ in pending:
                    self._fail(ItemFailure(doc_id, 429, "rejected with 429 on every attempt"))
                break
            self._wait(attempt)
            attempt += 1

    def close(self) -> BulkResult:
        """Send what is still buffered and return the counts."""
        self.flush()
        return self.result

    def _send(self, operations: List[Tuple[str, bytes]], attempt: int) -> List[Tuple[str, bytes]]:
        """Send one request and return the operations to retry."""
        payload = b"".join(operation for _, operation in operations)
        self.result.requests += 1
        try:
            response = self._client.bulk(
                body=payload, request_timeout=self._settings.request_timeout_seconds
            )
        except OpenSearchConnectionError as exc:
            # ConnectionTimeout is a subclass of ConnectionError in opensearch-py.
            if attempt >= self._settings.max_attempts:
                raise BulkConnectionError(
                    f"bulk request to index {self._index} failed {attempt} times, "
                    f"the last with: {exc}"
                ) from exc
            logger.warning("bulk request to %s failed (attempt %d): %s", self._index, attempt, exc)
            return operations
        except TransportError as exc:
            if exc.status_code != 429:
                raise
            logger.warning("bulk request to %s rejected with 429 (attempt %d)", self._index, attempt)
            return operations

        return self._handle_items(operations, response["items"])

    def _handle_items(
        self, operations: List[Tuple[str, bytes]], items: List[Dict[str, Any]]
    ) -> List[Tuple[str, bytes]]:
        retry: List[Tuple[str, bytes]] = []
        for (doc_id, operation), item in zip(operations, items):
            kind, outcome = next(iter(item.items()))
            status = int(outcome.get("status", 500))
            if kind == "delete" and status in (404, 409):
                # Already gone, or changed since it was read: nothing to delete.
                self.result.conflicts += 1
            elif status < 300:
                if kind == "delete":
                    self.result.deleted += 1
                else:
                    self.result.indexed += 1
            elif status == 429:
                retry.append((doc_id, operation))
            else:
                self._fail(ItemFailure(doc_id, status, _reason(outcome.get("error"))))
        if retry:
            logger.warning("%d bulk items to %s rejected with 429; retrying them", len(retry), self._index)
        return retry

    def _wait(self, attempt: int) -> None:
        self.result.retries += 1
        self._sleep(self._settings.backoff_seconds(attempt))

    def _fail(self, failure: ItemFailure) -> None:
        self.result.failed += 1
        if len(self.result.failures) < MAX_FAILURE_DETAILS:
            self.result.failures.append(failure)


def _reason(error: Any) -> str:
    """Return a one-line reason from a bulk item's ``error`` object."""
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return reason
    return str(error)
