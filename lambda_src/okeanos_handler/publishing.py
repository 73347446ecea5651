"""Destinations of task messages: the topic, the delay queue and the dead-letter queue.

SNS cannot delay a delivery, so a message that must wait goes to an SQS
queue with ``DelaySeconds`` (SQS allows at most 900 seconds). The function
consumes that queue too. A wait longer than 900 seconds is done in hops:
the message carries its due time (``okeanos-not-before``) and is sent back to
the queue until it is due.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, Protocol

from okeanos.windows import format_utc, utc_now

from okeanos_handler.events import ATTEMPT_ATTRIBUTE, NOT_BEFORE_ATTRIBUTE

logger = logging.getLogger(__name__)

# Maximum DelaySeconds of an SQS message (Amazon SQS Developer Guide, "Amazon SQS delay queues").
SQS_MAX_DELAY_SECONDS = 900
# A rejected body is kept whole up to this size; SQS messages are limited to 256 KiB.
MAX_DEAD_LETTER_BODY_CHARS = 64 * 1024


class Publisher(Protocol):
    """Sends a task message for a later cycle."""

    def publish(self, body: str, *, delay_seconds: int = 0, attempt: int = 0) -> None:
        """Deliver ``body`` to the handler again after ``delay_seconds``."""


class DeadLetters(Protocol):
    """Keeps invalid or undeliverable messages with the reason."""

    def send(self, *, message_id: str, reason: str, body: str) -> None:
        """Keep ``body`` (received as ``message_id``) with ``reason``."""


class AwsPublisher:
    """:class:`Publisher` through SNS (no delay) and an SQS delay queue (any delay)."""

    def __init__(
        self,
        *,
        sns_client: Any,
        sqs_client: Any,
        topic_arn: str,
        delay_queue_url: str,
        clock: Optional[Callable[[], datetime]] = None,
    ) -> None:
        self._sns = sns_client
        self._sqs = sqs_client
        self._topic_arn = topic_arn
        self._queue_url = delay_queue_url
        self._clock = clock or utc_now

    def publish(self, body: str, *, delay_seconds: int = 0, attempt: int = 0) -> None:
        if delay_seconds <= 0 and attempt == 0:
            self._sns.publish(TopicArn=self._topic_arn, Message=body)
            return
        due = self._clock() + timedelta(seconds=max(delay_seconds, 0))
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            DelaySeconds=min(max(delay_seconds, 0), SQS_MAX_DELAY_SECONDS),
            MessageAttributes={
                ATTEMPT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempt)},
                NOT_BEFORE_ATTRIBUTE: {"DataType": "String", "StringValue": format_utc(due)},
            },
        )


class SqsDeadLetters:
    """:class:`DeadLetters` as an SQS queue; each message is JSON with the reason and the body."""

    def __init__(self, *, sqs_client: Any, queue_url: str, clock: Optional[Callable[[], datetime]] = None) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._clock = clock or utc_now

    def send(self, *, message_id: str, reason: str, body: str) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=dead_letter_body(message_id, reason, body, self._clock()))


def dead_letter_body(message_id: str, reason: str, body: str, now: datetime) -> str:
    """Return the JSON kept for a rejected message, its body cut to a size SQS accepts."""
    truncated = len(body) > MAX_DEAD_LETTER_BODY_CHARS
    return json.dumps(
        {
            "time": format_utc(now),
            "message_id": message_id,
            "reason": reason,
            "body": body[:MAX_DEAD_LETTER_BODY_CHARS],
            "body_truncated": truncated,
        }
    )
