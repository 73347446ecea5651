"""Unit tests of the bulk writer's chunking and retry loop, with a fake client.

The fake replaces ``opensearchpy.OpenSearch.bulk`` only, so these tests
exercise the writer's own loop: bounds, 429 handling, backoff and failures.
Writing to a real node is covered by tests/test_run_views.py.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from okeanos_spark.bulk import BulkConnectionError, BulkSettings, BulkWriter


class FakeBulkClient:
    """Record bulk bodies and return responses or raise exceptions from a script."""

    def __init__(self, script: List[Any] = ()) -> None:
        self.script = list(script)
        self.bodies: List[bytes] = []

    def bulk(self, *, body: bytes, request_timeout: float) -> Dict[str, Any]:
        self.bodies.append(body)
        ids = [json.loads(line)["index"]["_id"] for line in body.decode().splitlines()[0::2]]
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        if step == "ok":
            return {"errors": False, "items": [{"index": {"_id": i, "status": 201}} for i in ids]}
        # A dict mapping ids to item statuses; unlisted ids succeed.
        items = []
        for doc_id in ids:
            status = step.get(doc_id, 201)
            item: Dict[str, Any] = {"_id": doc_id, "status": status}
            if status >= 300:
                item["error"] = {"type": "strict_dynamic_mapping_exception", "reason": f"bad {doc_id}"}
            items.append({"index": item})
        return {"errors": True, "items": items}

    def ids_per_request(self) -> List[List[str]]:
        return [
            [json.loads(line)["index"]["_id"] for line in body.decode().splitlines()[0::2]]
            for body in self.bodies
        ]


def _writer(client: FakeBulkClient, sleeps: List[float], **settings: Any) -> BulkWriter:
    return BulkWriter(client, "okeanos-view-test", settings=BulkSettings(**settings), sleep=sleeps.append)


def test_bulk_chunks_by_count() -> None:
    client = FakeBulkClient()
    writer = _writer(client, [], max_actions=3)
    for i in range(7):
        writer.add(f"d{i}", {"n": i})
    result = writer.close()
    assert [len(ids) for ids in client.ids_per_request()] == [3, 3, 1]
    assert result.indexed == 7


def test_bulk_chunks_by_bytes() -> None:
    client = FakeBulkClient()
    limit = 1000
    writer = _writer(client, [], max_bytes=limit)
    for i in range(20):
        writer.add(f"d{i}", {"text": "x" * 200})
    writer.close()
    sizes = [len(body) for body in client.bodies]
    assert max(sizes) <= limit
    assert len(client.bodies) > 1
    assert sum(len(ids) for ids in client.ids_per_request()) == 20


def test_bulk_sends_oversized_document_alone() -> None:
    client = FakeBulkClient()
    writer = _writer(client, [], max_bytes=500)
    writer.add("small-1", {"text": "a"})
    writer.add("huge", {"text": "x" * 2000})
    writer.add("small-2", {"text": "b"})
    writer.close()
    assert client.ids_per_request() == [["small-1"], ["huge"], ["small-2"]]


def test_bulk_body_is_index_operations() -> None:
    client = FakeBulkClient()
    writer = _writer(client, [])
    writer.add("d1", {"path": "/é"})
    writer.close()
    lines = client.bodies[0].decode("utf-8").splitlines()
    assert json.loads(lines[0]) == {"index": {"_index": "okeanos-view-test", "_id": "d1"}}
    assert json.loads(lines[1]) == {"path": "/é"}


def test_bulk_retries_only_429_items() -> None:
    client = FakeBulkClient([{"d1": 429}, "ok"])
    sleeps: List[float] = []
    writer = _writer(client, sleeps)
    for i in range(3):
        writer.add(f"d{i}", {"n": i})
    result = writer.close()
    assert client.ids_per_request() == [["d0", "d1", "d2"], ["d1"]]
    assert result.indexed == 3
    assert result.failed == 0
    assert len(sleeps) == 1


def test_bulk_retries_429_response() -> None:
    client = FakeBulkClient([TransportError(429, "es_rejected_execution_exception", {}), "ok"])
    writer = _writer(client, [])
    writer.add("d0", {"n": 0})
    result = writer.close()
    assert len(client.bodies) == 2
    assert result.indexed == 1


def test_bulk_retries_connection_errors() -> None:
    client = FakeBulkClient([
        OpenSearchConnectionError("N/A", "refused", None),
        ConnectionTimeout("TIMEOUT", "timed out", None),
        "ok",
    ])
    writer = _writer(client, [])
    writer.add("d0", {"n": 0})
    result = writer.close()
    assert result.indexed == 1
    assert result.retries == 2


def test_bulk_backoff_grows_with_jitter() -> None:
    client = FakeBulkClient([{"d0": 429}] * 4)
    sleeps: List[float] = []
    writer = _writer(client, sleeps, max_attempts=5, initial_backoff_seconds=1.0, max_backoff_seconds=4.0)
    writer.add("d0", {"n": 0})
    writer.close()
    ceilings = [1.0, 2.0, 4.0, 4.0]
    assert len(sleeps) == 4
    for delay, ceiling in zip(sleeps, ceilings):
        assert ceiling / 2 <= delay <= ceiling


def test_bulk_429_exhausted_is_failure() -> None:
    client = FakeBulkClient([{"d0": 429}] * 3)
    writer = _writer(client, [], max_attempts=3)
    writer.add("d0", {"n": 0})
    writer.add("d1", {"n": 1})
    result = writer.close()
    assert len(client.bodies) == 3
    assert result.indexed == 1
    assert [(f.doc_id, f.status) for f in result.failures] == [("d0", 429)]


def test_bulk_item_error_not_retried() -> None:
    client = FakeBulkClient([{"d1": 400}])
    writer = _writer(client, [])
    writer.add("d0", {"n": 0})
    writer.add("d1", {"n": 1})
    result = writer.close()
    assert len(client.bodies) == 1
    assert result.failed == 1
    assert result.failures[0].doc_id == "d1"
    assert result.failures[0].status == 400
    assert "strict_dynamic_mapping_exception: bad d1" in result.failures[0].reason


def test_bulk_connection_exhausted_raises() -> None:
    refused = OpenSearchConnectionError("N/A", "connection refused", None)
    client = FakeBulkClient([refused] * 3)
    writer = _writer(client, [], max_attempts=3)
    writer.add("d0", {"n": 0})
    with pytest.raises(BulkConnectionError, match="failed 3 times"):
        writer.close()
    assert len(client.bodies) == 3


def test_bulk_settings_reject_zero() -> None:
    with pytest.raises(ValueError, match="max_actions"):
        BulkSettings(max_actions=0)
