"""ContinuousAggregation and Monitoring: messages, grants, schedules, alarms, conflicts."""

from __future__ import annotations

import json

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from okeanos.task import parse_task
from okeanos_spark.formats import format_names
from okeanos_spark.registry import get_job, job_names
from okeanos_stack import ContinuousAggregation, Monitoring, OkeanosPropsError, TaskTopic
from tests.cdk_support import as_list, find_one, new_stack, policy_statements, resources, synth


@pytest.fixture(scope="module")
def built():
    _, stack = new_stack()
    topic = TaskTopic(stack, "Topic")
    role = iam.Role(stack, "ClusterRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    continuous = ContinuousAggregation(
        stack,
        "Apache",
        task="web-apache",
        job="http_status_hourly",
        input_uri="s3://logs-bucket/apache/",
        input_format="combined",
        topic=topic,
        cluster_role=role,
        lastnhours=3,
        interval_seconds=120,
        backfill_schedule="cron(0 3 * * ? *)",
        backfill_hours=48,
    )
    plain = ContinuousAggregation(
        stack,
        "Nginx",
        task="web-nginx",
        job="top_paths_daily",
        input_uri="s3://logs-bucket/nginx/",
        input_format="nginx-json",
        topic=topic.topic,
    )
    queue = sqs.Queue(stack, "Dlq", enforce_ssl=True)
    function = lambda_.Function.from_function_arn(stack, "Fn", "arn:aws:lambda:eu-west-1:111111111111:function:h")
    alarm_topic = sns.Topic.from_topic_arn(stack, "Alarms", "arn:aws:sns:eu-west-1:111111111111:alarms")
    monitoring = Monitoring(
        stack,
        "Monitoring",
        dead_letter_queue=queue,
        function=function,
        task_names=["web-apache", "web-nginx"],
        freshness_threshold_seconds={"web-apache": 3600},
        alarm_topic=alarm_topic,
    )
    return {"template": synth(stack), "continuous": continuous, "plain": plain, "monitoring": monitoring}


def test_message_is_valid_task(built):
    message = parse_task(built["continuous"].message_json, jobs=job_names())
    assert message.job == "http_status_hourly"


def test_message_window_and_loop(built):
    body = json.loads(built["continuous"].message_json)
    assert body["window"] == {"runasof": "now", "lastnhours": 3}
    assert body["resubmit"] is True
    assert body["interval_seconds"] == 120


def test_message_defaults(built):
    body = json.loads(built["plain"].message_json)
    assert body["window"] == {"runasof": "now", "lastnhours": 2}
    assert body["interval_seconds"] == 300


def test_input_read_scoped_to_prefix(built):
    statements = [s for logical_id, s in policy_statements(built["template"]) if logical_id.startswith("ClusterRoleDefaultPolicy")]
    by_action = {s["Action"]: s for s in statements}
    assert by_action["s3:GetObject"]["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::logs-bucket/apache/*"]]
    }
    assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["apache/*"]}}


def test_schedule_publishes_relative_backfill(built):
    schedule = find_one(built["template"], "AWS::Scheduler::Schedule", lambda p: True)["Properties"]
    body = json.loads(schedule["Target"]["Input"])
    assert body["window"] == {"runasof": "now", "lastnhours": 48}
    assert body["resubmit"] is False
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"


def test_schedule_role_may_only_publish(built):
    actions = sorted(
        action
        for logical_id, s in policy_statements(built["template"])
        if logical_id.startswith("ApacheScheduleRoleDefaultPolicy")
        for action in as_list(s["Action"])
    )
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"]


def test_no_schedule_without_expression(built):
    assert built["plain"].schedule is None
    assert len(resources(built["template"], "AWS::Scheduler::Schedule")) == 1


def test_unknown_job_and_format_reported_together():
    _, stack = new_stack()
    topic = sns.Topic(stack, "T")
    with pytest.raises(OkeanosPropsError) as raised:
        ContinuousAggregation(
            stack, "Bad", task="bad", job="no_such_job", input_uri="https://x/", input_format="xml", topic=topic,
            backfill_hours=5,
        )
    assert raised.value.problems == [
        f"job 'no_such_job' is not a registered job; registered: {', '.join(job_names())}",
        f"input_format 'xml' is not a known format; known: {', '.join(format_names())}",
        "input_uri 'https://x/' is not an s3://bucket/prefix URI",
        "backfill_hours is set without backfill_schedule; set both or neither",
    ]


def test_format_not_read_by_job_rejected():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        ContinuousAggregation(
            stack, "Bad", task="bad", job="http_status_hourly", input_uri="s3://logs-b/p/", input_format="events",
            topic=sns.Topic(stack, "T"),
        )
    accepted = ", ".join(get_job("http_status_hourly").formats)
    assert raised.value.problems == [
        f"input_format 'events' is not read by job 'http_status_hourly'; it reads: {accepted}"
    ]


def test_invalid_task_name_rejected():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        ContinuousAggregation(
            stack, "Bad", task="Web Apache", job="http_status_hourly", input_uri="s3://logs-b/p/",
            input_format="combined", topic=sns.Topic(stack, "T"),
        )
    assert raised.value.problems[0].startswith("task message is invalid: task:")


def test_alarm_keys(built):
    assert sorted(built["monitoring"].alarms) == [
        "dead-letters",
        "freshness:web-apache",
        "freshness:web-nginx",
        "handler-errors",
        "step-failures",
    ]


def test_freshness_alarm_contract(built):
    alarm = find_one(
        built["template"], "AWS::CloudWatch::Alarm", lambda p: p.get("Dimensions") == [{"Name": "Task", "Value": "web-apache"}]
    )["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("okeanos", "FreshnessSeconds", 3600)
    assert alarm["TreatMissingData"] == "breaching"


def test_freshness_default_threshold(built):
    alarm = find_one(
        built["template"], "AWS::CloudWatch::Alarm", lambda p: p.get("Dimensions") == [{"Name": "Task", "Value": "web-nginx"}]
    )["Properties"]
    assert alarm["Threshold"] == 7200


def test_step_failures_alarm_contract(built):
    alarm = find_one(built["template"], "AWS::CloudWatch::Alarm", lambda p: p.get("MetricName") == "StepFailures")
    assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": "okeanos"}]


def test_alarms_notify_topic(built):
    alarms = resources(built["template"], "AWS::CloudWatch::Alarm").values()
    assert all(a["Properties"]["AlarmActions"] == ["arn:aws:sns:eu-west-1:111111111111:alarms"] for a in alarms)


def test_dashboard_created(built):
    assert len(resources(built["template"], "AWS::CloudWatch::Dashboard")) == 1


def test_monitoring_conflicts_reported_together():
    _, stack = new_stack()
    queue = sqs.Queue(stack, "Q")
    function = lambda_.Function.from_function_arn(stack, "F", "arn:aws:lambda:eu-west-1:111111111111:function:h")
    with pytest.raises(OkeanosPropsError) as raised:
        Monitoring(
            stack, "Bad", dead_letter_queue=queue, function=function, task_names=["a", "a"],
            freshness_threshold_seconds={"b": 10},
        )
    assert raised.value.problems == [
        "freshness_threshold_seconds['b'] names a task not in task_names",
        "freshness_threshold_seconds['b'] is 10; use a whole number >= 60",
        "task_names contains duplicates: ['a', 'a']",
    ]
