"""Functional tests of the task commands: locally (SQLite) and against a deployed stack (moto)."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta

import pytest

from okeanos import control
from okeanos.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from okeanos.cli import tasks as tasks_cli
from okeanos.environments import Environment
from okeanos.exceptions import ConfigurationError
from okeanos.state.sqlite import SqliteStateStore
from okeanos.task import MAX_LASTNHOURS, TaskMessage, TaskWindow
from okeanos.windows import Window
from tests.loop_support import NOW

TEMPLATE = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "task", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "task", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        },
    },
    "Outputs": {
        "TaskTopicArn": {"Value": {"Ref": "Topic"}},
        "StateTableName": {"Value": {"Ref": "Table"}},
        "ClusterId": {"Value": "j-TESTCLUSTER1"},
    },
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OKEANOS_HOME", str(tmp_path / "home"))
    logs = tmp_path / "logs"
    logs.mkdir()
    return logs


def local_state(home, key="http-status-hourly"):
    store = SqliteStateStore(home.parent / "home" / "tasks.sqlite")
    return store.get(key)


def test_start_local_stores_active(home, capsys):
    code = main(["start", "http_status_hourly", "--input", str(home), "--format", "combined", "--interval", "30"])
    state = local_state(home)
    message = json.loads(state.message)
    assert code == EXIT_OK
    assert state.status == "active"
    assert message["interval_seconds"] == 30
    assert message["window"] == {"runasof": "now", "lastnhours": control.DEFAULT_LASTNHOURS}
    assert "okeanos local loop" in capsys.readouterr().out


def test_start_new_task_needs_input(home, capsys):
    code = main(["start", "http_status_hourly"])
    assert code == EXIT_USAGE
    assert "--input and --format required" in capsys.readouterr().err


def test_start_unregistered_job(home, capsys):
    code = main(["start", "no_such_job", "--input", str(home), "--format", "combined"])
    assert code == EXIT_USAGE
    assert "JOB: 'no_such_job' is not a registered job" in capsys.readouterr().err


def test_restart_reuses_stored_input(home):
    main(["start", "http_status_hourly", "--input", str(home), "--format", "combined"])
    main(["start", "http_status_hourly", "--lastnhours", "6"])
    message = json.loads(local_state(home).message)
    assert message["input"] == {"uri": str(home), "format": "combined"}
    assert message["window"]["lastnhours"] == 6


def test_pause_resume_local(home):
    main(["start", "http_status_hourly", "--input", str(home), "--format", "combined"])
    assert main(["pause", "http-status-hourly"]) == EXIT_OK
    paused = local_state(home).status
    assert main(["resume", "http-status-hourly"]) == EXIT_OK
    assert paused == "paused"
    assert local_state(home).status == "active"


def test_local_loop_rejects_paused_task(home, capsys):
    main(["start", "http_status_hourly", "--input", str(home), "--format", "combined"])
    main(["pause", "http-status-hourly"])
    code = main(["local", "loop", "http_status_hourly", "--input", str(home), "--format", "combined", "--cycles", "1"])
    assert code == EXIT_USAGE
    assert "okeanos resume http-status-hourly" in capsys.readouterr().err
    assert local_state(home).status == "paused"


def test_pause_unknown_task(home, capsys):
    code = main(["pause", "nobody"])
    assert code == EXIT_FAILED
    assert "task 'nobody' has no stored state" in capsys.readouterr().err


def test_status_json_freshness(home, capsys):
    store = SqliteStateStore(home.parent / "home" / "tasks.sqlite")
    window = Window.last_n_hours(NOW, 2)
    store.claim("web", "t", now=NOW, lease_seconds=60)
    store.record_step("web", "t", step_id="s-1", window=window, message="{}", now=NOW)
    store.complete_step("web", "s-1", now=NOW)
    code = main(["status", "web", "--json"])
    row = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert row["last_completed"] == "2015-05-18T10:00:30Z/2015-05-18T12:00:30Z"
    assert row["freshness_seconds"] >= 0


def test_status_table_lists_failures():
    store = SqliteStateStore(":memory:")
    store.claim("web", "t", now=NOW, lease_seconds=60)
    store.record_step("web", "t", step_id="s-1", window=Window.last_n_hours(NOW, 2), message="{}", now=NOW)
    store.fail_step("web", "s-1", reason="FAILED: driver exited", now=NOW, max_failures=5)
    rows = control.status(Environment(name="local", store=store), "web", now=NOW + timedelta(minutes=5))
    text = tasks_cli.format_status(rows, detail=True)
    assert text.splitlines()[0].split() == ["TASK", "STATUS", "STEP", "STEP", "WINDOW", "LAST", "COMPLETED", "FRESHNESS", "FAILURES"]
    assert "s-1 FAILED: driver exited" in text


def test_freshness_is_now_minus_window_end():
    store = SqliteStateStore(":memory:")
    window = Window.last_n_hours(NOW, 2)
    store.claim("web", "t", now=NOW, lease_seconds=60)
    store.record_step("web", "t", step_id="s-1", window=window, message="{}", now=NOW)
    store.complete_step("web", "s-1", now=NOW)
    rows = control.status(Environment(name="local", store=store), now=NOW + timedelta(seconds=90))
    assert rows[0].freshness == timedelta(seconds=90)


@pytest.fixture
def deployed(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="okeanos-dev", TemplateBody=json.dumps(TEMPLATE))
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cloudformation.describe_stacks(StackName="okeanos-dev")["Stacks"][0]["Outputs"]}
        sqs = boto3.client("sqs")
        tap = sqs.create_queue(QueueName="tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns").subscribe(TopicArn=outputs["TaskTopicArn"], Protocol="sqs", Endpoint=tap_arn,
                                      Attributes={"RawMessageDelivery": "true"})

        def published():
            messages = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(message["Body"]) for message in messages]

        yield outputs, published


def test_start_deployed_publishes(deployed):
    outputs, published = deployed
    code = main(["start", "http_status_hourly", "--input", "s3://logs/apache/", "--format", "combined", "--env", "dev"])
    messages = published()
    assert code == EXIT_OK
    assert len(messages) == 1
    assert messages[0]["deployment"] == {
        "cluster_id": "j-TESTCLUSTER1", "topic_arn": outputs["TaskTopicArn"], "state_table": outputs["StateTableName"],
    }


def test_resume_deployed_republishes(deployed):
    _, published = deployed
    main(["start", "http_status_hourly", "--input", "s3://logs/apache/", "--format", "combined", "--env", "dev"])
    main(["pause", "http-status-hourly", "--env", "dev"])
    published()
    assert main(["resume", "http-status-hourly", "--env", "dev"]) == EXIT_OK
    assert [message["task"] for message in published()] == ["http-status-hourly"]


def test_missing_stack_reported(deployed, capsys):
    code = main(["status", "--env", "prod"])
    assert code == EXIT_USAGE
    assert "stack 'okeanos-prod' not found" in capsys.readouterr().err


def test_invalid_env_name(home, capsys):
    assert main(["status", "--env", "Prod!"]) == EXIT_USAGE


def test_backfill_keeps_max_in_flight(monkeypatch):
    """Chunks are published at most max_concurrent at a time; each poll completes the oldest one."""
    store = SqliteStateStore(":memory:")
    published = []
    completed = []
    in_flight_seen = []

    class FakeSns:
        def publish(self, TopicArn, Message):
            published.append(json.loads(Message))
            in_flight_seen.append(len(published) - len(completed))
            return {"MessageId": f"m-{len(published)}"}

    env = Environment(name="dev", store=store, topic_arn="arn:aws:sns:us-east-1:123456789012:t",
                      state_table="okeanos-state", cluster_id="j-TESTCLUSTER1", sns_client=FakeSns())

    def complete_oldest(seconds):
        message = published[len(completed)]
        key = f"{message['task']}@{message['window']['from']}"
        window = Window.parse(message["window"]["from"], message["window"]["to"])
        store.claim(key, "t", now=NOW, lease_seconds=60)
        store.record_step(key, "t", step_id=f"s-{len(completed)}", window=window, message=json.dumps(message), now=NOW)
        store.complete_step(key, f"s-{len(completed)}", now=NOW)
        completed.append(key)

    monkeypatch.setattr(tasks_cli.time, "sleep", complete_oldest)
    messages = control.backfill_messages(
        env, "http_status_hourly", Window.parse("2015-05-01T00:00:00Z", "2015-05-06T00:00:00Z"), timedelta(days=1),
        input_uri="s3://logs/apache/", input_format="combined",
    )
    failed = tasks_cli.backfill_deployed(env, messages, max_concurrent=2, poll_seconds=0)
    assert failed == []
    assert len(published) == 5
    assert max(in_flight_seen) == 2
    assert [m["window"]["from"] for m in published] == [f"2015-05-0{d}T00:00:00Z" for d in range(1, 6)]
    assert all(m["resubmit"] is False for m in published)


def test_backfill_reports_failed_chunk(monkeypatch):
    store = SqliteStateStore(":memory:")
    published = []

    class FakeSns:
        def publish(self, TopicArn, Message):
            published.append(json.loads(Message))
            return {"MessageId": "m"}

    env = Environment(name="dev", store=store, topic_arn="arn:aws:sns:us-east-1:123456789012:t", sns_client=FakeSns())

    def fail_it(seconds):
        message = published[-1]
        key = f"{message['task']}@{message['window']['from']}"
        store.claim(key, "t", now=NOW, lease_seconds=60)
        store.record_step(key, "t", step_id="s-1", window=Window.last_n_hours(NOW, 1), message="{}", now=NOW)
        store.fail_step(key, "s-1", reason="x", now=NOW, max_failures=1)

    monkeypatch.setattr(tasks_cli.time, "sleep", fail_it)
    messages = control.backfill_messages(
        env, "http_status_hourly", Window.parse("2015-05-01T00:00:00Z", "2015-05-02T00:00:00Z"), timedelta(days=1),
        input_uri="s3://logs/apache/", input_format="combined",
    )
    assert tasks_cli.backfill_deployed(env, messages, max_concurrent=1, poll_seconds=0) == [
        "http-status-hourly@2015-05-01T00:00:00Z"
    ]


def test_progress_bar_draws(capsys):
    import io

    stream = io.StringIO()
    bar = tasks_cli.ProgressBar(4, stream=stream, width=8)
    bar.show(1, 1, 2)
    assert stream.getvalue() == "\r[####....] 2/4 chunks, 2 running, 1 failed"


def test_start_relative_input_made_absolute(home, monkeypatch):
    monkeypatch.chdir(home.parent)
    main(["start", "http_status_hourly", "--input", home.name, "--format", "combined"])
    message = json.loads(local_state(home).message)
    assert message["input"]["uri"] == str(home.resolve())


def test_build_message_deployed_needs_s3(home):
    store = SqliteStateStore(home.parent / "deployed.sqlite")
    env = Environment(name="dev", store=store, topic_arn="arn:aws:sns:us-east-1:123456789012:t")
    with pytest.raises(ConfigurationError, match="--input: 'logs' is not an s3:// URI"):
        control.build_task_message(env, "http_status_hourly", input_uri="logs", input_format="combined", jobs=["http_status_hourly"])


@pytest.mark.parametrize("value", ["", "  "])
def test_start_blank_input_rejected(home, capsys, value):
    code = main(["start", "http_status_hourly", "--input", value, "--format", "combined"])
    assert code == EXIT_USAGE
    assert "--input" in capsys.readouterr().err


def test_start_lastnhours_over_max(home, capsys):
    code = main(["start", "http_status_hourly", "--input", str(home), "--format", "combined",
                 "--lastnhours", str(MAX_LASTNHOURS + 1)])
    assert code == EXIT_USAGE
    assert f"--lastnhours: expected a whole number of hours from 1 to {MAX_LASTNHOURS}" in capsys.readouterr().err


def test_start_bad_interval_names_option(home, capsys):
    code = main(["start", "http_status_hourly", "--input", str(home), "--format", "combined", "--interval", "-1"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "--interval:" in err
    assert "interval_seconds" not in err


def test_start_without_region_says_set_it(home, capsys, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["start", "http_status_hourly", "--input", "s3://b/logs/", "--format", "combined", "--env", "dev"])
    assert code == EXIT_USAGE
    assert "set AWS_REGION or AWS_DEFAULT_REGION" in capsys.readouterr().err


def test_start_suggestion_keeps_stored_values(home, capsys):
    main(["start", "http_status_hourly", "--input", str(home), "--format", "combined",
          "--lastnhours", "5", "--interval", "20"])
    words = shlex.split(capsys.readouterr().out.split("run it with: ", 1)[1])
    assert words[words.index("--lastnhours") + 1] == "5"
    assert words[words.index("--interval") + 1] == "20"


def test_loop_command_quotes_arguments():
    message = TaskMessage(task="t", job="http_status_hourly", input_uri="/tmp/x|id", input_format="combined",
                          window=TaskWindow(lastnhours=2), resubmit=True, interval_seconds=60)
    words = shlex.split(tasks_cli.local_loop_command(message))
    assert words[words.index("--input") + 1] == "/tmp/x|id"


def backfill_args(home, chunk):
    return ["backfill", "http_status_hourly", "--from", "2015-05-17T00:00:00Z", "--to", "2015-05-18T00:00:00Z",
            "--chunk", chunk, "--input", str(home), "--format", "combined"]


def test_backfill_too_many_chunks(home, capsys):
    code = main(backfill_args(home, "1s"))
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert f"into {24 * 3600} chunks" in err
    assert "larger --chunk" in err


def test_backfill_negative_chunk_is_duration_error(home, capsys):
    code = main(backfill_args(home, "-1d"))
    assert code == EXIT_USAGE
    assert "--chunk: '-1d' is not a positive duration" in capsys.readouterr().err


def test_backfill_huge_chunk_is_usage_error(home, capsys):
    code = main(backfill_args(home, "99999999999999d"))
    assert code == EXIT_USAGE
    assert "--chunk" in capsys.readouterr().err


def test_backfill_help_names_task_default(capsys):
    with pytest.raises(SystemExit):
        main(["backfill", "--help"])
    assert "with '_' replaced by '-'" in " ".join(capsys.readouterr().out.split())


def test_backfill_local_quiets_handler_log(home, monkeypatch):
    import logging

    from okeanos_handler import app

    monkeypatch.setattr(tasks_cli, "backfill_locally", lambda env, messages, max_concurrent: [])
    main(backfill_args(home, "1d"))
    try:
        assert logging.getLogger("okeanos_handler").level == logging.WARNING
    finally:
        app.set_log_level(logging.NOTSET)


@pytest.mark.parametrize(("option", "value"), [("--lastnhours", "0"), ("--interval", "-3")])
def test_loop_bad_value_names_option(home, capsys, option, value):
    code = main(["local", "loop", "http_status_hourly", "--input", str(home), "--format", "combined", option, value])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert f"{option}:" in err
