"""Lambda events to the records the loop controller handles.

The function receives three kinds of event:

- SNS (task messages published to the task topic): one :class:`TaskRecord` per record;
- SQS (the delay queue, messages that had to wait): one :class:`TaskRecord` per record;
- EventBridge ``EMR Step Status Change`` from ``aws.emr``: one :class:`StepStatusChange`.

Parsing uses the Powertools event data classes, which wrap the dict without
validating it, so no pydantic is needed in the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Union

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SNSEvent, SQSEvent

from okeanos.exceptions import WindowError
from okeanos.windows import parse_utc

# Message attributes that travel with a task message which had to wait.
ATTEMPT_ATTRIBUTE = "okeanos-attempt"
NOT_BEFORE_ATTRIBUTE = "okeanos-not-before"

EMR_SOURCE = "aws.emr"
STEP_STATUS_CHANGE = "EMR Step Status Change"


@dataclass(frozen=True)
class TaskRecord:
    """One task message as delivered: its body, id and where it came from."""

    message_id: str
    body: str
    source: str  # "sns" or "sqs"
    attempt: int = 0
    not_before: Optional[datetime] = None


@dataclass(frozen=True)
class StepStatusChange:
    """The ``detail`` of an ``EMR Step Status Change`` event, with the event id."""

    event_id: str
    cluster_id: str
    step_id: str
    name: str
    state: str
    message: str = ""
    action_on_failure: str = ""
    severity: str = ""


class OtherEvent:
    """An event the handler does not act on (another source or detail type)."""

    def __init__(self, description: str) -> None:
        self.description = description


Record = Union[TaskRecord, StepStatusChange, OtherEvent]


def parse_event(event: Mapping[str, Any]) -> List[Record]:
    """Split a Lambda event into records, in delivery order."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if isinstance(records, list) and records:
        source = records[0].get("EventSource") or records[0].get("eventSource")
        if source == "aws:sns":
            return [_sns_record(record) for record in SNSEvent(dict(event)).records]
        if source == "aws:sqs":
            return [_sqs_record(record) for record in SQSEvent(dict(event)).records]
        return [OtherEvent(f"records from {source!r}")]
    if isinstance(event, Mapping) and "detail-type" in event:
        bridge = EventBridgeEvent(dict(event))
        if bridge.source != EMR_SOURCE or bridge.detail_type != STEP_STATUS_CHANGE:
            return [OtherEvent(f"{bridge.detail_type!r} from {bridge.source!r}")]
        detail: Dict[str, Any] = bridge.detail or {}
        return [
            StepStatusChange(
                event_id=bridge.get_id,
                cluster_id=str(detail.get("clusterId", "")),
                step_id=str(detail.get("stepId", "")),
                name=str(detail.get("name", "")),
                state=str(detail.get("state", "")),
                message=str(detail.get("message", "")),
                action_on_failure=str(detail.get("actionOnFailure", "")),
                severity=str(detail.get("severity", "")),
            )
        ]
    return [OtherEvent("an event that is neither SNS, SQS nor EventBridge")]


def _sns_record(record) -> TaskRecord:
    sns = record.sns
    attributes = {name: attribute.value for name, attribute in (sns.message_attributes or {}).items()}
    return TaskRecord(
        message_id=sns.message_id,
        body=sns.message,
        source="sns",
        attempt=_attempt(attributes),
        not_before=_not_before(attributes),
    )


def _sqs_record(record) -> TaskRecord:
    attributes = {
        name: attribute.string_value for name, attribute in (record.message_attributes or {}).items()
    }
    return TaskRecord(
        message_id=record.message_id,
        body=record.body,
        source="sqs",
        attempt=_attempt(attributes),
        not_before=_not_before(attributes),
    )


def _attempt(attributes: Mapping[str, Optional[str]]) -> int:
    text = attributes.get(ATTEMPT_ATTRIBUTE) or "0"
    return int(text) if text.isdigit() else 0


def _not_before(attributes: Mapping[str, Optional[str]]) -> Optional[datetime]:
    text = attributes.get(NOT_BEFORE_ATTRIBUTE)
    if not text:
        return None
    try:
        return parse_utc(text, NOT_BEFORE_ATTRIBUTE)
    except WindowError:
        return None
