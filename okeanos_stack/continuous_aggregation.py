"""ContinuousAggregation: one configured task, wired onto a deployed pipeline.

The task message is built with :class:`okeanos.task.TaskMessage` and
validated at synth time against the job registry and the input formats, so
a typo in a job or format name fails ``cdk synth`` rather than a step.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from okeanos.exceptions import TaskMessageError
from okeanos.task import MAX_INTERVAL_SECONDS, MAX_LASTNHOURS, TaskMessage, TaskWindow, parse_task
from okeanos_spark.formats import format_names
from okeanos_spark.registry import get_job, job_names
from okeanos_stack._props import PropsChecker
from okeanos_stack.exceptions import OkeanosPropsError
from okeanos_stack.nag import acknowledge_grant, finding_text
from okeanos_stack.task_topic import TopicLike, as_topic

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")

# EventBridge Scheduler accepts rate(...), cron(...) and at(...) expressions.
_SCHEDULE_EXPRESSION = re.compile(r"^(rate|cron)\(.+\)$")


class ContinuousAggregation(Construct):
    """One aggregation task: its message, read access to its input, an optional schedule.

    The task runs continuously once its first message is published (by
    ``okeanos start`` with :attr:`message_json`): every step's completion
    publishes the next cycle after ``interval_seconds``.

    A schedule, when given, publishes a backfill message periodically. A
    fixed ``[from, to)`` window cannot move with time in a fixed schedule
    payload, so the scheduled message carries a relative window,
    ``{"runasof": "now", "lastnhours": backfill_hours}``, which the handler
    resolves when the message arrives. It has ``resubmit`` false, so it runs
    once and does not start a second loop.

    Parameters
    ----------
    task
        Task name (lower-case letters, digits, ``.``, ``_``, ``-``).
    job
        A registered job name (``okeanos_spark.registry.job_names()``).
    input_uri
        ``s3://bucket/prefix/`` of the input logs.
    input_format
        An input format the job reads (``AggregationJob.formats``).
    topic
        The task topic (a :class:`TaskTopic` or any ``sns.ITopic``); the
        schedule publishes to it.
    cluster_role
        The cluster's instance role, granted read on the input prefix only.
        Default: no grant (an existing cluster whose role is managed elsewhere).
    lastnhours
        Hours each cycle recomputes, ending now. Default: 2.
    interval_seconds
        Minimum delay, in seconds, between two cycles. Default: 300.
    continuous
        Whether each step publishes the next cycle. Default: True.
    backfill_schedule
        An EventBridge Scheduler expression (``rate(1 day)``, ``cron(...)``)
        for periodic backfills. Default: no schedule.
    backfill_hours
        Hours each scheduled backfill recomputes. Default: 24.

    Attributes
    ----------
    message : TaskMessage
        The validated task message.
    message_json : str
        Its wire form.
    schedule : scheduler.CfnSchedule | None
        The backfill schedule.
    schedule_role : iam.Role | None
        The role the schedule publishes with (sns:Publish on the topic only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task: str,
        job: str,
        input_uri: str,
        input_format: str,
        topic: TopicLike,
        cluster_role: Optional[iam.IRole] = None,
        lastnhours: Optional[int] = None,
        interval_seconds: Optional[int] = None,
        continuous: Optional[bool] = None,
        backfill_schedule: Optional[str] = None,
        backfill_hours: Optional[int] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        checker = PropsChecker(f"ContinuousAggregation {task!r}")
        hours = 2 if lastnhours is None else lastnhours
        interval = 300 if interval_seconds is None else interval_seconds
        backfill = 24 if backfill_hours is None else backfill_hours

        registered = job_names()
        if job not in registered:
            checker.add(f"job {job!r} is not a registered job; registered: {', '.join(registered) or 'none'}")
        else:
            accepted = get_job(job).formats
            if input_format not in accepted:
                checker.add(f"input_format {input_format!r} is not read by job {job!r}; it reads: {', '.join(accepted)}")
        known_formats = format_names()
        if input_format not in known_formats:
            checker.add(f"input_format {input_format!r} is not a known format; known: {', '.join(known_formats)}")
        match = _S3_URI.match(input_uri)
        if not match:
            checker.add(f"input_uri {input_uri!r} is not an s3://bucket/prefix URI")
        if backfill_schedule is None and backfill_hours is not None:
            checker.add("backfill_hours is set without backfill_schedule; set both or neither")
        if backfill_schedule is not None and not _SCHEDULE_EXPRESSION.match(backfill_schedule):
            checker.add(
                f"backfill_schedule {backfill_schedule!r} is not a schedule expression such as "
                "rate(1 day) or cron(0 3 * * ? *)"
            )
        if not 1 <= backfill <= MAX_LASTNHOURS:
            checker.add(f"backfill_hours is {backfill}; use 1 to {MAX_LASTNHOURS}")
        if not 0 <= interval <= MAX_INTERVAL_SECONDS:
            checker.add(f"interval_seconds is {interval}; use 0 to {MAX_INTERVAL_SECONDS}")
        checker.raise_if_any()

        message = TaskMessage(
            task=task,
            job=job,
            input_uri=input_uri,
            input_format=input_format,
            window=TaskWindow(lastnhours=hours),
            resubmit=True if continuous is None else continuous,
            interval_seconds=interval,
        )
        try:
            # The same validation the handler applies to every message it receives.
            self.message = parse_task(message.to_dict(), jobs=registered, formats=known_formats)
        except TaskMessageError as exc:
            raise OkeanosPropsError(checker.construct, [f"task message is invalid: {exc}"]) from exc
        self.message_json = self.message.to_json()
        assert match is not None
        self.input_bucket = match.group("bucket")
        self.input_prefix = match.group("prefix") or ""

        if cluster_role is not None:
            self.grant_read_input(cluster_role)

        self.schedule: Optional[scheduler.CfnSchedule] = None
        self.schedule_role: Optional[iam.Role] = None
        if backfill_schedule is not None:
            backfill_message = dataclasses.replace(
                self.message, window=TaskWindow(lastnhours=backfill), resubmit=False
            )
            self._build_schedule(topic, backfill_schedule, backfill_message)

    def grant_read_input(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to list and read objects under the input prefix, and nothing else."""
        stack = Stack.of(self)
        bucket_arn = stack.format_arn(service="s3", region="", account="", resource=self.input_bucket)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [self.input_prefix + "*"]}},
        )
        objects = f"{bucket_arn}/{self.input_prefix}*"
        acknowledge_grant(
            grantee,
            f"AwsSolutions-IAM5[Resource::{finding_text(self, objects)}]",
            f"The job reads every object under the input prefix of task {self.message.task}, "
            "whose keys are not known in advance; the grant is s3:GetObject on that prefix only.",
        )
        return iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[objects])

    def _build_schedule(self, topic: TopicLike, expression: str, message: TaskMessage) -> None:
        stack = Stack.of(self)
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Publishes backfill messages of okeanos task {message.task}",
        )
        topic.grant_publish(self.schedule_role)
        self.schedule = scheduler.CfnSchedule(
            self,
            "BackfillSchedule",
            description=f"okeanos backfill of task {message.task}: last {message.window.lastnhours} hours",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=as_topic(topic).topic_arn,
                role_arn=self.schedule_role.role_arn,
                input=message.to_json(),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )

