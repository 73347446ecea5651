"""An in-process task topic for local mode, delivering SNS-shaped events.

It replaces both the SNS task topic and the SQS delay queue: a message
published with a delay is held until it is due. :meth:`LocalTopic.deliver_due`
hands each due message to the subscriber (the same handler function as in
AWS) as an SNS event of one record, with the fields AWS documents for SNS
events delivered to Lambda.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Tuple

from okeanos.windows import utc_now

LOCAL_TOPIC_ARN = "arn:aws:sns:local-1:000000000000:okeanos-tasks"
# The attribute name is the one okeanos_handler.events reads.
ATTEMPT_ATTRIBUTE = "okeanos-attempt"

Subscriber = Callable[[Dict[str, Any], Any], Any]


class LocalTopic:
    """Holds published task messages until due and delivers them to one subscriber.

    Implements the handler's ``Publisher`` interface (:meth:`publish`).
    """

    topic_arn = LOCAL_TOPIC_ARN

    def __init__(self, *, clock: Optional[Callable[[], datetime]] = None) -> None:
        self._clock = clock or utc_now
        self._queue: List[Tuple[datetime, int, str, int]] = []
        self._sequence = itertools.count()
        self._subscriber: Optional[Subscriber] = None

    def subscribe(self, subscriber: Subscriber) -> None:
        """Deliver messages to ``subscriber(event, context)`` from now on."""
        self._subscriber = subscriber

    def publish(self, body: str, *, delay_seconds: int = 0, attempt: int = 0) -> None:
        """Queue ``body`` for delivery after ``delay_seconds``."""
        due = self._clock() + timedelta(seconds=max(delay_seconds, 0))
        heapq.heappush(self._queue, (due, next(self._sequence), body, attempt))

    def __len__(self) -> int:
        return len(self._queue)

    def next_due(self) -> Optional[datetime]:
        """Return when the next message is due, or ``None`` if none is queued."""
        return self._queue[0][0] if self._queue else None

    def deliver_due(self) -> int:
        """Deliver every message that is due now, one SNS event each; return how many."""
        if self._subscriber is None:
            raise RuntimeError("LocalTopic has no subscriber; call subscribe(handler) first")
        delivered = 0
        while self._queue and self._queue[0][0] <= self._clock():
            _, _, body, attempt = heapq.heappop(self._queue)
            self._subscriber(sns_event([body], attempt=attempt, topic_arn=self.topic_arn, now=self._clock()), None)
            delivered += 1
        return delivered


def sns_event(
    bodies: List[str],
    *,
    attempt: int = 0,
    topic_arn: str = LOCAL_TOPIC_ARN,
    now: Optional[datetime] = None,
    message_ids: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """Return an SNS event for Lambda carrying ``bodies``, one record each."""
    moment = (now or utc_now()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    records = []
    for position, body in enumerate(bodies):
        message_id = message_ids[position] if message_ids else str(uuid.uuid4())
        attributes = {}
        if attempt:
            attributes[ATTEMPT_ATTRIBUTE] = {"Type": "Number", "Value": str(attempt)}
        records.append(
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": moment,
                    "Signature": "local",
                    "SigningCertUrl": "https://sns.local-1.amazonaws.com/local.pem",
                    "MessageId": message_id,
                    "Message": body,
                    "MessageAttributes": attributes,
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.local-1.amazonaws.com/?Action=Unsubscribe",
                    "TopicArn": topic_arn,
                    "Subject": None,
                },
            }
        )
    return {"Records": records}
