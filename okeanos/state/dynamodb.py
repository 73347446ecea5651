"""Task state in a DynamoDB table, for deployed environments.

Key schema: partition key ``task`` (string), no sort key. Attributes are
written as strings and numbers; unset fields are left out of the item.

Every write is a ``PutItem`` with a ``ConditionExpression`` on the
``version`` attribute that the operation read (or on the item not existing
yet). So of two invocations racing to claim a task, only one write succeeds.
The other reads the record again, finds the claim, and submits nothing. Reads are strongly
consistent so a claim is never decided on a stale copy.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from okeanos.state.base import TaskState, VersionedStateStore
from okeanos.state.exceptions import StateStoreError

logger = logging.getLogger(__name__)

_NUMBER_FIELDS = ("consecutive_failures", "version")


class DynamoDbStateStore(VersionedStateStore):
    """Task state in the DynamoDB table ``table_name``.

    Parameters
    ----------
    table_name
        The table; its key schema must be ``task`` (string, partition key).
    client
        A boto3 DynamoDB client; a new one from the default session if not given.
    """

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table_name = table_name
        self._client = client

    def list(self) -> List[TaskState]:
        states = []
        paginator = self._client.get_paginator("scan")
        try:
            for page in paginator.paginate(TableName=self.table_name, ConsistentRead=True):
                states.extend(TaskState.from_record(_from_item(item)) for item in page["Items"])
        except self._client.exceptions.ClientError as exc:
            raise StateStoreError(f"scanning task-state table {self.table_name!r} failed: {exc}") from exc
        return sorted(states, key=lambda state: state.key)

    def _load(self, key: str) -> Optional[TaskState]:
        try:
            response = self._client.get_item(
                TableName=self.table_name, Key={"task": {"S": key}}, ConsistentRead=True
            )
        except self._client.exceptions.ClientError as exc:
            raise StateStoreError(
                f"reading task {key!r} from table {self.table_name!r} failed: {exc}"
            ) from exc
        item = response.get("Item")
        return TaskState.from_record(_from_item(item)) if item else None

    def _write(self, state: TaskState, expected_version: int) -> bool:
        if expected_version == 0:
            condition = "attribute_not_exists(task)"
            values: Dict[str, Any] = {}
        else:
            condition = "version = :expected"
            values = {":expected": {"N": str(expected_version)}}
        request: Dict[str, Any] = {
            "TableName": self.table_name,
            "Item": _to_item(state.to_record()),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            logger.debug("conditional write of task %s lost a race; re-reading", state.key)
            return False
        except self._client.exceptions.ClientError as exc:
            raise StateStoreError(
                f"writing task {state.key!r} to table {self.table_name!r} failed: {exc}"
            ) from exc
        return True


def _to_item(record: Dict[str, Any]) -> Dict[str, Dict[str, str]]:
    item = {}
    for name, value in record.items():
        if value is None:
            continue
        if name in _NUMBER_FIELDS:
            item[name] = {"N": str(value)}
        else:
            item[name] = {"S": str(value)}
    return item


def _from_item(item: Dict[str, Dict[str, str]]) -> Dict[str, Any]:
    record: Dict[str, Any] = {}
    for name, value in item.items():
        if "N" in value:
            record[name] = int(value["N"])
        else:
            record[name] = value.get("S")
    return record
