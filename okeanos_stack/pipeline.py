"""OkeanosPipeline: every okeanos construct, wired together, in one statement.

Stages: task topic, state table, job assets, Spark cluster, view store,
step submitter, one ContinuousAggregation per configured task, monitoring,
then the stack outputs the ``okeanos`` CLI reads.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from okeanos_handler import config as handler_config
from okeanos_stack._props import PropsChecker
from okeanos_stack.continuous_aggregation import ContinuousAggregation
from okeanos_stack.job_assets import JobAssets
from okeanos_stack.monitoring import METRIC_NAMESPACE, Monitoring
from okeanos_stack.nag import acknowledge_grant, finding_text
from okeanos_stack.spark_cluster import SparkCluster
from okeanos_stack.step_submitter import StepSubmitter
from okeanos_stack.task_state_table import TaskStateTable
from okeanos_stack.task_topic import TaskTopic
from okeanos_stack.view_store import ViewStore

# Key prefix, in the cluster's log bucket, of the rejected-line samples of runs.
REJECTS_PREFIX = "rejects/"

# Output keys the okeanos CLI looks up to find a deployed environment.
OUTPUT_KEYS = ("TaskTopicArn", "StateTableName", "ClusterId", "DeadLetterQueueUrl", "ViewStoreEndpoint")

# Keyword arguments the pipeline passes itself; options may not set them.
_WIRED = {
    "cluster_options": (),
    "view_store_options": ("vpc", "allowed_security_groups", "reader_principals"),
    "step_submitter_options": ("topic", "cluster", "job_assets", "state_table", "opensearch_url"),
    "topic_options": ("publisher_principals",),
    "state_table_options": (),
    "monitoring_options": ("dead_letter_queue", "function", "task_names", "alarm_topic"),
    "task_options": ("topic", "cluster_role"),
}


class OkeanosPipeline(Construct):
    """The whole okeanos pipeline: ``OkeanosPipeline(stack, "Okeanos")`` is a working deployment.

    Each ``*_options`` prop is a dict of keyword arguments for one inner
    construct (see that construct for each key and its default); keys the
    pipeline wires itself are rejected.

    Parameters
    ----------
    tasks
        Tasks to configure, each a dict of :class:`ContinuousAggregation`
        arguments (``task``, ``job``, ``input_uri``, ``input_format``, ...).
        Default: none; tasks can also be published later with ``okeanos start``.
    publisher_principals
        Principals allowed to publish task messages. Default: none beyond
        identity-policy grants (:meth:`TaskTopic.grant_publish`).
    reader_principals
        Principals allowed to read the views. Default: none.
    alarm_topic
        Topic notified by every alarm. Default: no notification.
    index_prefix
        Prefix of every view index. Default: the Spark job's (``okeanos``).
    topic_options, state_table_options, cluster_options, view_store_options,
    step_submitter_options, monitoring_options
        Keyword arguments for :class:`TaskTopic`, :class:`TaskStateTable`,
        :class:`SparkCluster`, :class:`ViewStore`, :class:`StepSubmitter` and
        :class:`Monitoring`. Default: each construct's defaults.
    outputs
        Whether to add the stack outputs :data:`OUTPUT_KEYS`, which must be
        unique in a stack. Default: True.

    Attributes
    ----------
    topic, state_table, job_assets, cluster, view_store, step_submitter, monitoring
        The inner constructs.
    aggregations : dict[str, ContinuousAggregation]
        The configured tasks by name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tasks: Optional[Sequence[Mapping[str, Any]]] = None,
        publisher_principals: Optional[Sequence[iam.IPrincipal]] = None,
        reader_principals: Optional[Sequence[iam.IPrincipal]] = None,
        alarm_topic: Optional[sns.ITopic] = None,
        index_prefix: Optional[str] = None,
        topic_options: Optional[Mapping[str, Any]] = None,
        state_table_options: Optional[Mapping[str, Any]] = None,
        cluster_options: Optional[Mapping[str, Any]] = None,
        view_store_options: Optional[Mapping[str, Any]] = None,
        step_submitter_options: Optional[Mapping[str, Any]] = None,
        monitoring_options: Optional[Mapping[str, Any]] = None,
        outputs: Optional[bool] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        options = {
            "topic_options": dict(topic_options or {}),
            "state_table_options": dict(state_table_options or {}),
            "cluster_options": dict(cluster_options or {}),
            "view_store_options": dict(view_store_options or {}),
            "step_submitter_options": dict(step_submitter_options or {}),
            "monitoring_options": dict(monitoring_options or {}),
        }
        checker = PropsChecker("OkeanosPipeline")
        for name, values in options.items():
            for key in sorted(set(values) & set(_WIRED[name])):
                checker.add(f"{name}[{key!r}] is set by the pipeline itself; remove it")
        names = []
        for index, task in enumerate(tasks or ()):
            for key in sorted(set(task) & set(_WIRED["task_options"])):
                checker.add(f"tasks[{index}][{key!r}] is set by the pipeline itself; remove it")
            names.append(task.get("task"))
        duplicates = sorted({name for name in names if names.count(name) > 1 and name is not None})
        if duplicates:
            checker.add(f"tasks: task names must be unique; repeated: {', '.join(duplicates)}")
        checker.raise_if_any()

        self.topic = TaskTopic(
            self, "TaskTopic", publisher_principals=publisher_principals, **options["topic_options"]
        )
        self.state_table = TaskStateTable(self, "StateTable", **options["state_table_options"])
        self.job_assets = JobAssets(self, "JobAssets")
        self.cluster = SparkCluster(self, "Cluster", **options["cluster_options"])

        view_options = dict(options["view_store_options"])
        if self.cluster.vpc is not None and not {"domain", "endpoint_url"} & set(view_options):
            # The cluster has no internet access, so the domain lives in its VPC.
            view_options.update(vpc=self.cluster.vpc, allowed_security_groups=self.cluster.security_groups)
        self.view_store = ViewStore(self, "ViewStore", reader_principals=reader_principals, **view_options)

        submitter_options = dict(options["step_submitter_options"])
        if index_prefix is not None:
            submitter_options["index_prefix"] = index_prefix
        submitter_options["handler_settings"] = self._step_settings(submitter_options.get("handler_settings"))
        self.step_submitter = StepSubmitter(
            self,
            "StepSubmitter",
            topic=self.topic,
            cluster=self.cluster,
            job_assets=self.job_assets,
            state_table=self.state_table.table,
            opensearch_url=self.view_store.endpoint_url,
            **submitter_options,
        )

        role = self.cluster.instance_role
        if role is not None:
            self.job_assets.grant_read(role)
            self.view_store.grant_write(role)
            grant_put_metrics(role)
            if self.cluster.log_bucket is not None:
                rejects = self.cluster.log_bucket.arn_for_objects(f"{REJECTS_PREFIX}*")
                iam.Grant.add_to_principal(grantee=role, actions=["s3:PutObject"], resource_arns=[rejects])
                acknowledge_grant(
                    role,
                    f"AwsSolutions-IAM5[Resource::{finding_text(self, rejects)}]",
                    "Each run writes its sample of rejected lines under a key named by its run id "
                    "below the rejects/ prefix; the grant is s3:PutObject on that prefix of the "
                    "cluster's own log bucket only.",
                )

        self.aggregations: Dict[str, ContinuousAggregation] = {}
        for task in tasks or ():
            aggregation = ContinuousAggregation(
                self, f"Task-{task['task']}", topic=self.topic, cluster_role=role, **task
            )
            self.aggregations[aggregation.message.task] = aggregation

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dead_letter_queue=self.step_submitter.dead_letter_queue,
            function=self.step_submitter.function,
            task_names=list(self.aggregations),
            alarm_topic=alarm_topic,
            **options["monitoring_options"],
        )

        if outputs is None or outputs:
            self._add_outputs()

    def _step_settings(self, handler_settings: Optional[Dict[str, str]]) -> Dict[str, str]:
        """Add the Spark settings that steps need on EMR to the handler's settings.

        In YARN cluster mode the driver's environment comes from
        ``spark.yarn.appMasterEnv.*``: the CloudWatch namespace makes a step
        publish its task's freshness, and the rejects location puts the
        sample of rejected lines in the cluster's log bucket instead of the
        driver node's local disk.
        """
        settings = dict(handler_settings or {})
        conf = [f"spark.yarn.appMasterEnv.OKEANOS_CLOUDWATCH_NAMESPACE={METRIC_NAMESPACE}"]
        if self.cluster.log_bucket is not None:
            conf.append(
                f"spark.yarn.appMasterEnv.OKEANOS_REJECTS_URI="
                f"s3://{self.cluster.log_bucket.bucket_name}/{REJECTS_PREFIX}"
            )
        if settings.get(handler_config.SPARK_CONF):
            conf.append(settings[handler_config.SPARK_CONF])
        settings[handler_config.SPARK_CONF] = ",".join(conf)
        return settings

    def _add_outputs(self) -> None:
        stack = Stack.of(self)
        values = {
            "TaskTopicArn": self.topic.topic_arn,
            "StateTableName": self.state_table.table_name,
            "ClusterId": self.cluster.cluster_id,
            "DeadLetterQueueUrl": self.step_submitter.dead_letter_queue.queue_url,
            "ViewStoreEndpoint": self.view_store.endpoint_url,
        }
        for key in OUTPUT_KEYS:
            output = CfnOutput(self, key, value=values[key], export_name=f"{stack.stack_name}-{key}")
            # The CLI looks outputs up by these exact keys.
            output.override_logical_id(key)


def grant_put_metrics(grantee: iam.IGrantable) -> iam.Grant:
    """Allow ``grantee`` to publish CloudWatch metrics in the ``okeanos`` namespace only.

    PutMetricData has no resource type, so its resource must be ``*``; the
    ``cloudwatch:namespace`` condition key scopes it ("Actions, resources,
    and condition keys for Amazon CloudWatch" in the Service Authorization
    Reference).
    """
    acknowledge_grant(
        grantee,
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:PutMetricData has no resource type; the cloudwatch:namespace condition "
        "limits it to the okeanos namespace.",
    )
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["cloudwatch:PutMetricData"],
        resource_arns=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
    )
