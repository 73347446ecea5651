"""Fixtures and event builders for the loop tests: moto AWS resources and documented event shapes.

The SNS, SQS and EventBridge events below copy the shapes AWS documents
(the Lambda developer guide's sample SNS and SQS events, and the EMR
"Step Status Change" sample event), every documented field included, with
only the message, ids and step details replaced.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

ACCOUNT = "123456789012"
REGION = "us-east-1"
JOBS = frozenset({"http_status_hourly", "top_paths_daily"})
NOW = datetime(2015, 5, 18, 12, 0, 30, tzinfo=timezone.utc)

DOCUMENTED_SNS_EVENT = {
    "Records": [
        {
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": "2019-01-02T12:45:07.000Z",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "Message": "Hello from SNS!",
                "MessageAttributes": {
                    "Test": {"Type": "String", "Value": "TestString"},
                    "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
                },
                "Type": "Notification",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:test-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda",
                "Subject": "TestInvoke",
            },
        }
    ]
}

DOCUMENTED_SQS_EVENT = {
    "Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": "Test message.",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "awsRegion": "us-east-2",
        }
    ]
}

DOCUMENTED_STEP_EVENT = {
    "version": "0",
    "id": "1234abb0-f87e-1234-b7b6-000000000000",
    "detail-type": "EMR Step Status Change",
    "source": "aws.emr",
    "account": "123456789012",
    "time": "2016-12-16T20:53:09Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "severity": "ERROR",
        "actionOnFailure": "CONTINUE",
        "stepId": "s-ZYXWVUTSRQPON",
        "name": "CustomJAR",
        "clusterId": "j-123456789ABCD",
        "state": "FAILED",
        "message": "Step s-ZYXWVUTSRQPON (CustomJAR) in Amazon EMR cluster j-123456789ABCD "
        "(Development Cluster) failed at 2016-12-16 20:53 UTC.",
    },
}


def task_body(**overrides: Any) -> Dict[str, Any]:
    """Return a valid continuous task message as a dict, with ``overrides`` applied."""
    body: Dict[str, Any] = {
        "version": 1,
        "task": "web-apache",
        "job": "http_status_hourly",
        "input": {"uri": "s3://example-logs/apache/", "format": "combined"},
        "window": {"runasof": "now", "lastnhours": 2},
        "resubmit": True,
        "interval_seconds": 60,
    }
    body.update(overrides)
    return body


def sns_event(*bodies: str, message_ids: Optional[List[str]] = None, attempt: int = 0) -> Dict[str, Any]:
    """Return the documented SNS event with one record per body."""
    records = []
    for position, body in enumerate(bodies):
        record = copy.deepcopy(DOCUMENTED_SNS_EVENT["Records"][0])
        record["Sns"]["Message"] = body
        record["Sns"]["MessageId"] = message_ids[position] if message_ids else f"msg-{position}"
        if attempt:
            record["Sns"]["MessageAttributes"]["okeanos-attempt"] = {"Type": "Number", "Value": str(attempt)}
        records.append(record)
    return {"Records": records}


def sqs_event(body: str, *, message_id: str = "sqs-1", attempt: int = 1, not_before: Optional[str] = None) -> Dict[str, Any]:
    """Return the documented SQS event carrying ``body`` with the okeanos attributes."""
    event = copy.deepcopy(DOCUMENTED_SQS_EVENT)
    record = event["Records"][0]
    record["body"] = body
    record["messageId"] = message_id
    attributes = {"okeanos-attempt": {"stringValue": str(attempt), "stringListValues": [], "binaryListValues": [], "dataType": "Number"}}
    if not_before:
        attributes["okeanos-not-before"] = {"stringValue": not_before, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    record["messageAttributes"] = attributes
    return event


def step_event(*, cluster_id: str, step_id: str, name: str, state: str, event_id: str = "evt-1") -> Dict[str, Any]:
    """Return the documented EMR Step Status Change event for one step."""
    event = copy.deepcopy(DOCUMENTED_STEP_EVENT)
    event["id"] = event_id
    event["detail"].update(
        {
            "stepId": step_id,
            "name": name,
            "clusterId": cluster_id,
            "state": state,
            "severity": "INFO" if state == "COMPLETED" else "ERROR",
            "message": f"Step {step_id} ({name}) in Amazon EMR cluster {cluster_id} (test) {state.lower()}.",
        }
    )
    return event


class Clock:
    """A settable clock for the controller."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now = self.now + timedelta(seconds=seconds)


@dataclass
class RecordingDeadLetters:
    """Dead-letter destination that keeps what it receives."""

    items: List[Dict[str, str]] = field(default_factory=list)

    def send(self, *, message_id: str, reason: str, body: str) -> None:
        self.items.append({"message_id": message_id, "reason": reason, "body": body})


@dataclass
class AwsLoop:
    """The moto resources and the controller wired to them."""

    emr: Any
    sqs: Any
    sns: Any
    dynamodb: Any
    cluster_id: str
    topic_arn: str
    tap_url: str
    delay_queue_url: str
    dead_letter_url: str
    table: str
    clock: Clock
    controller: Any = None
    sleeps: List[float] = field(default_factory=list)

    def build(self, **config_overrides: Any):
        """(Re)build the controller with config overrides and install it in the handler."""
        from okeanos.state.dynamodb import DynamoDbStateStore
        from okeanos_handler import app
        from okeanos_handler.config import HandlerConfig
        from okeanos_handler.loop import LoopController
        from okeanos_handler.publishing import AwsPublisher, SqsDeadLetters
        from okeanos_handler.submission import EmrSubmitter

        config = HandlerConfig(
            cluster_id=self.cluster_id,
            job_package_uri="s3://okeanos-assets/okeanos-jobs.zip",
            entry_script_uri="s3://okeanos-assets/okeanos_main.py",
            topic_arn=self.topic_arn,
            delay_queue_url=self.delay_queue_url,
            dead_letter_queue_url=self.dead_letter_url,
            state_table=self.table,
            opensearch_url="https://search.example.com",
            index_prefix="okeanos",
        )
        config = replace(config, **config_overrides)
        self.controller = LoopController(
            config=config,
            store=DynamoDbStateStore(self.table, client=self.dynamodb),
            runner=EmrSubmitter(self.emr, self.cluster_id, sleep=self.sleeps.append),
            publisher=AwsPublisher(
                sns_client=self.sns, sqs_client=self.sqs, topic_arn=self.topic_arn,
                delay_queue_url=self.delay_queue_url, clock=self.clock,
            ),
            dead_letters=SqsDeadLetters(sqs_client=self.sqs, queue_url=self.dead_letter_url, clock=self.clock),
            jobs=JOBS,
            clock=self.clock,
        )
        app.use_controller(self.controller)
        return self.controller

    @property
    def store(self):
        return self.controller.store

    def steps(self) -> List[Any]:
        """Return moto's steps of the cluster, oldest first."""
        return list(self.backend_cluster().steps)

    def backend_cluster(self):
        from moto.emr.models import emr_backends

        return emr_backends[ACCOUNT][REGION].clusters[self.cluster_id]

    def set_step_state(self, step_id: str, state: str) -> None:
        """Drive a step's state through moto's backend (its API cannot)."""
        for step in self.backend_cluster().steps:
            if step.id == step_id:
                step.state = state
                return
        raise KeyError(step_id)

    def finish(self, step, state: str, *, event_id: str = "evt-1") -> Dict[str, Any]:
        """Set ``step`` to ``state`` in moto and deliver its event to the handler."""
        from okeanos_handler import app

        self.set_step_state(step.id, state)
        return app.handler(step_event(cluster_id=self.cluster_id, step_id=step.id, name=step.name, state=state, event_id=event_id), None)

    def drain(self, queue_url: str) -> List[Dict[str, Any]]:
        """Receive every visible message of a queue, attributes included."""
        messages = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            )
            batch = response.get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(batch)

    def delayed(self) -> List[Dict[str, Any]]:
        """Return the delay queue's messages as moto stores them: body, delay and attributes."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[ACCOUNT][REGION].queues["okeanos-delay"]
        return [
            {
                "body": message.body,
                "delay_seconds": round((message.delayed_until - message.sent_timestamp) / 1000)
                if message.delayed_until else 0,
                "attributes": message.message_attributes,
            }
            for message in queue._messages
        ]

    def published(self) -> List[str]:
        """Return the bodies published to the task topic (via a raw SQS subscription)."""
        return [message["Body"] for message in self.drain(self.tap_url)]


@pytest.fixture
def aws():
    """moto EMR cluster, SNS topic (tapped by a queue), delay and dead-letter queues, state table."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    with mock_aws():
        emr = boto3.client("emr", region_name=REGION, config=Config(retries={"max_attempts": 1}))
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        cluster_id = emr.run_job_flow(
            Name="shared",
            ReleaseLabel="emr-7.12.0",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "SlaveInstanceType": "m5.xlarge",
                "InstanceCount": 3,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
        topic_arn = sns.create_topic(Name="okeanos-tasks")["TopicArn"]
        tap_url = sqs.create_queue(QueueName="topic-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=tap_arn, Attributes={"RawMessageDelivery": "true"})
        delay_url = sqs.create_queue(QueueName="okeanos-delay")["QueueUrl"]
        dead_url = sqs.create_queue(QueueName="okeanos-dead-letters")["QueueUrl"]
        dynamodb.create_table(
            TableName="okeanos-state",
            KeySchema=[{"AttributeName": "task", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "task", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        loop = AwsLoop(
            emr=emr, sqs=sqs, sns=sns, dynamodb=dynamodb, cluster_id=cluster_id, topic_arn=topic_arn,
            tap_url=tap_url, delay_queue_url=delay_url, dead_letter_url=dead_url, table="okeanos-state",
            clock=Clock(),
        )
        loop.build()
        yield loop
        from okeanos_handler import app

        app.use_controller(None)


def body_json(**overrides: Any) -> str:
    """Return :func:`task_body` as JSON text."""
    return json.dumps(task_body(**overrides))
