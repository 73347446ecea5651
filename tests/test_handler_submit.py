"""Functional tests of the handler's submission path against moto (EMR, SNS, SQS, DynamoDB)."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from okeanos.task import from_argument
from okeanos.windows import Window, format_utc
from okeanos_handler import app
from okeanos_handler.loop import ADOPTED, DUPLICATE, REQUEUED, SUBMITTED
from okeanos_handler.events import TaskRecord
from okeanos_handler.steps import MAX_STEP_STRING_CHARS
from tests.loop_support import NOW, aws, body_json, sns_event, sqs_event  # noqa: F401

TWO_HOURS = Window.last_n_hours(NOW, 2)


def test_documented_sns_event_submits_one_step(aws):
    result = app.handler(sns_event(body_json()), None)
    steps = aws.steps()
    assert result["outcomes"] == [SUBMITTED]
    assert len(steps) == 1
    assert steps[0].name == f"okeanos:web-apache:{format_utc(TWO_HOURS.start)}"
    assert steps[0].jar == "command-runner.jar"
    assert steps[0].action_on_failure == "CONTINUE"


def test_submit_records_step_and_window(aws):
    app.handler(sns_event(body_json()), None)
    state = aws.store.get("web-apache")
    assert state.step_id == aws.steps()[0].id
    assert state.step_window == TWO_HOURS
    assert state.claim_token is None


def test_every_record_of_event_handled(aws):
    bodies = [body_json(task=f"web-{n}") for n in range(3)]
    result = app.handler(sns_event(*bodies), None)
    names = sorted(step.name.split(":")[1] for step in aws.steps())
    assert result["outcomes"] == [SUBMITTED] * 3
    assert names == ["web-0", "web-1", "web-2"]


def test_same_message_100_times_one_step(aws):
    body = body_json()
    outcomes = [app.handler(sns_event(body, message_ids=["dup"]), None)["outcomes"][0] for _ in range(100)]
    assert len(aws.steps()) == 1
    assert outcomes.count(SUBMITTED) == 1
    assert outcomes.count(DUPLICATE) == 99


def test_duplicates_in_one_event_one_step(aws):
    body = body_json()
    app.handler(sns_event(*[body] * 10, message_ids=["same"] * 10), None)
    assert len(aws.steps()) == 1


def test_step_args_shape(aws):
    app.handler(sns_event(body_json()), None)
    args = aws.steps()[0].args
    assert all(isinstance(arg, str) and arg for arg in args)
    assert sum(len(arg) for arg in args) + len("command-runner.jar") <= MAX_STEP_STRING_CHARS
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert args[args.index("--py-files") + 1] == "s3://okeanos-assets/okeanos-jobs.zip"
    assert args[args.index("--py-files") + 2] == "s3://okeanos-assets/okeanos_main.py"
    assert args[args.index("--opensearch-url") + 1] == "https://search.example.com"


def test_step_task_decodes_to_resolved_window(aws):
    app.handler(sns_event(body_json()), None)
    args = aws.steps()[0].args
    task = from_argument(args[args.index("--task") + 1])
    expected = {
        "version": 1, "task": "web-apache", "job": "http_status_hourly",
        "input": {"uri": "s3://example-logs/apache/", "format": "combined"},
        "window": TWO_HOURS.to_dict(), "resubmit": True, "interval_seconds": 60,
    }
    assert task.to_dict() == expected


class ThrottledEmr:
    """Proxy of a moto EMR client whose first ``failures`` add_job_flow_steps calls are throttled."""

    def __init__(self, client, failures: int, code: str = "ThrottlingException") -> None:
        self._client = client
        self.failures = failures
        self.code = code
        self.exceptions = client.exceptions

    def add_job_flow_steps(self, **request):
        if self.failures > 0:
            self.failures -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, "AddJobFlowSteps")
        return self._client.add_job_flow_steps(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_throttling_retried_then_submitted(aws):
    aws.controller.runner._client = ThrottledEmr(aws.emr, failures=2)
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == [SUBMITTED]
    assert len(aws.steps()) == 1
    assert len(aws.sleeps) == 2


def test_throttling_exhausted_requeues(aws):
    aws.controller.runner._client = ThrottledEmr(aws.emr, failures=10)
    result = app.handler(sns_event(body_json()), None)
    state = aws.store.get("web-apache")
    assert result["outcomes"] == [REQUEUED]
    assert aws.steps() == []
    assert state.claim_token is None
    assert len(aws.delayed()) == 1


def test_full_cluster_requeues_with_delay(aws):
    filler = {"Name": "other-team", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "x.jar", "Args": []}}
    aws.emr.add_job_flow_steps(JobFlowId=aws.cluster_id, Steps=[filler] * 256)
    result = app.handler(sns_event(body_json()), None)
    delayed = aws.delayed()
    assert result["outcomes"] == [REQUEUED]
    assert len(aws.steps()) == 256
    assert len(delayed) == 1
    assert delayed[0]["delay_seconds"] == aws.controller.config.requeue_delay_seconds
    assert delayed[0]["attributes"]["okeanos-attempt"]["StringValue"] == "1"
    assert aws.store.get("web-apache").claim_token is None


def test_requeued_message_submits_when_room(aws):
    aws.build(max_active_steps=1)
    filler = {"Name": "other-team", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "x.jar", "Args": []}}
    other = aws.emr.add_job_flow_steps(JobFlowId=aws.cluster_id, Steps=[filler])["StepIds"][0]
    app.handler(sns_event(body_json()), None)
    aws.set_step_state(other, "COMPLETED")
    result = app.handler(sqs_event(aws.delayed()[0]["body"], attempt=1), None)
    assert result["outcomes"] == [SUBMITTED]
    assert result["batchItemFailures"] == []


def test_terminated_cluster_requeues(aws):
    aws.backend_cluster().state = "TERMINATED"
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == [REQUEUED]
    assert len(aws.delayed()) == 1


def test_validation_exception_requeues(aws):
    aws.controller.runner._client = ThrottledEmr(aws.emr, failures=1, code="ValidationException")
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == [REQUEUED]
    assert aws.store.get("web-apache").claim_token is None


def test_requeue_limit_dead_letters(aws):
    aws.build(max_requeues=3)
    aws.backend_cluster().state = "TERMINATED"
    result = app.handler(sqs_event(body_json(), attempt=3), None)
    dead = aws.drain(aws.dead_letter_url)
    assert result["outcomes"] == ["rejected"]
    assert len(dead) == 1


def test_backfill_limit_requeues(aws):
    aws.build(max_backfill_steps=1)
    first = body_json(window={"from": "2015-05-01T00:00:00Z", "to": "2015-05-02T00:00:00Z"}, resubmit=False)
    second = body_json(window={"from": "2015-05-02T00:00:00Z", "to": "2015-05-03T00:00:00Z"}, resubmit=False)
    result = app.handler(sns_event(first, second), None)
    assert result["outcomes"] == [SUBMITTED, REQUEUED]
    assert aws.steps()[0].name == "okeanos:web-apache:2015-05-01T00:00:00Z:backfill"


def test_backfill_runs_beside_loop(aws):
    loop = body_json()
    backfill = body_json(window={"from": "2015-05-01T00:00:00Z", "to": "2015-05-02T00:00:00Z"}, resubmit=False)
    result = app.handler(sns_event(loop, backfill), None)
    assert result["outcomes"] == [SUBMITTED, SUBMITTED]
    assert aws.store.get("web-apache@2015-05-01T00:00:00Z").step_window == Window.parse(
        "2015-05-01T00:00:00Z", "2015-05-02T00:00:00Z"
    )


def test_paused_task_submits_nothing(aws):
    aws.store.save_message("web-apache", body_json(), status="paused", now=NOW)
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == ["paused"]
    assert aws.steps() == []


def test_live_claim_blocks_second_submit(aws):
    aws.store.claim("web-apache", "crashed-invocation", now=NOW, lease_seconds=300)
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == [DUPLICATE]
    assert aws.steps() == []


def test_expired_claim_allows_submit(aws):
    aws.store.claim("web-apache", "crashed-invocation", now=NOW, lease_seconds=300)
    aws.clock.advance(301)
    result = app.handler(sns_event(body_json()), None)
    assert result["outcomes"] == [SUBMITTED]
    assert len(aws.steps()) == 1


def test_orphan_step_adopted_after_crash(aws):
    # An invocation claimed, added its step, and crashed before recording it.
    controller = aws.controller
    record = TaskRecord(message_id="m-1", body=body_json(), source="sns")
    message = controller.validate(record.body)
    from okeanos.task import TaskWindow
    from okeanos_handler.steps import spark_submit_args, step_name

    aws.store.claim("web-apache", "crashed", now=NOW, lease_seconds=300)
    orphan = controller.runner.add_step(
        str(step_name(message, TWO_HOURS)), spark_submit_args(message.with_window(TaskWindow.fixed(TWO_HOURS)), controller.assets)
    )
    aws.clock.advance(301)
    outcome = controller.handle_task(record)
    state = aws.store.get("web-apache")
    assert outcome == ADOPTED
    assert len(aws.steps()) == 1
    assert state.step_id == orphan
    assert state.step_window == TWO_HOURS


def test_lost_event_reconciled_on_next_message(aws):
    app.handler(sns_event(body_json()), None)
    first = aws.steps()[0]
    aws.set_step_state(first.id, "COMPLETED")
    result = app.handler(sns_event(body_json()), None)
    state = aws.store.get("web-apache")
    assert result["outcomes"] == [SUBMITTED]
    assert state.last_completed == TWO_HOURS
    assert state.step_id == aws.steps()[1].id


def test_not_due_message_waits_again(aws):
    due = format_utc(NOW.replace(hour=13))
    result = app.handler(sqs_event(body_json(), attempt=0, not_before=due), None)
    delayed = aws.delayed()
    assert result["outcomes"] == ["waiting"]
    assert aws.steps() == []
    assert delayed[0]["delay_seconds"] == 900


def test_state_error_reported_as_batch_failure(aws):
    aws.dynamodb.delete_table(TableName=aws.table)
    result = app.handler(sqs_event(body_json(), message_id="sqs-9"), None)
    assert result["batchItemFailures"] == [{"itemIdentifier": "sqs-9"}]


def test_state_error_raises_for_sns(aws):
    import pytest

    aws.dynamodb.delete_table(TableName=aws.table)
    with pytest.raises(app.RecordsFailedError):
        app.handler(sns_event(body_json()), None)


def test_other_cluster_rejected(aws):
    body = body_json(deployment={"cluster_id": "j-OTHERCLUSTER"})
    app.handler(sns_event(body), None)
    dead = json.loads(aws.drain(aws.dead_letter_url)[0]["Body"])
    assert dead["reason"].startswith("deployment.cluster_id:")
    assert aws.steps() == []


def test_format_not_of_job_dead_lettered(aws):
    body = body_json(input={"uri": "s3://example-logs/events/", "format": "events"})
    app.handler(sns_event(body), None)
    dead = json.loads(aws.drain(aws.dead_letter_url)[0]["Body"])
    assert dead["reason"].startswith("input.format:")
    assert aws.steps() == []


def test_local_path_rejected_on_emr(aws):
    body = body_json(input={"uri": "/etc/okeanos", "format": "combined"})
    app.handler(sns_event(body), None)
    dead = json.loads(aws.drain(aws.dead_letter_url)[0]["Body"])
    assert dead["reason"].startswith("input.uri:")
    assert aws.steps() == []


def test_metrics_emitted_as_emf(aws, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    aws.controller.metrics = app.metrics
    app.handler(sns_event(body_json(), "not json"), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emf = lines[-1]
    names = {metric["Name"] for metric in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "okeanos"
    assert emf["StepsSubmitted"] == [1.0] or emf["StepsSubmitted"] == 1.0
    assert emf["MessagesRejected"] == [1.0] or emf["MessagesRejected"] == 1.0
    assert {"StepsSubmitted", "MessagesRejected"} <= names


def test_logs_carry_message_id(aws):
    import io
    import logging

    # The Powertools handler on the okeanos_handler logger keeps the stream
    # it was created with, so it is pointed at a buffer here.
    stream_handler = logging.getLogger("okeanos_handler").handlers[0]
    buffer = io.StringIO()
    previous = stream_handler.setStream(buffer)
    try:
        app.handler(sns_event("not json", message_ids=["bad-message-1"]), None)
    finally:
        stream_handler.setStream(previous)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    rejected = [record for record in records if "rejected" in record.get("message", "")]
    assert rejected[0]["correlation_id"] == "bad-message-1"
    assert rejected[0]["level"] == "ERROR"
    assert "message: is not valid UTF-8 JSON" in rejected[0]["message"]
