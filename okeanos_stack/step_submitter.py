"""StepSubmitter: the Lambda function that turns task messages into EMR steps.

The function receives three kinds of events: task messages from the topic
(SNS), delayed task messages from its own delay queue (SQS), and "EMR Step
Status Change" events of its cluster (EventBridge). Messages it cannot
process end in the dead-letter queue, whichever way they came.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import AssetHashType
from constructs import Construct

from okeanos_handler import config as handler_config
from okeanos_stack import bundling
from okeanos_stack._props import Props, PropsChecker, merge_props
from okeanos_stack.job_assets import JobAssets
from okeanos_stack.nag import acknowledge
from okeanos_stack.spark_cluster import SparkCluster
from okeanos_stack.task_topic import TopicLike, as_topic

HANDLER = "okeanos_handler.app.handler"
RUNTIME = lambda_.Runtime.PYTHON_3_12

# Powertools for AWS Lambda (Python) v3, from its public layer
# arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python}-{arch}:{version}
# ("Install" page of the Powertools documentation), published under this
# account in the commercial regions. A version number can differ between
# regions, which powertools_layer_version lets a caller correct.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
# NOTE: 27 is the latest layer version the Powertools documentation showed
# when this was written; it is not confirmed to carry 3.37.0, the version
# pinned in requirements.txt. Override with powertools_layer_version.
POWERTOOLS_LAYER_VERSION = 27

# Handler settings a caller may set through handler_settings: the tunables
# of okeanos_handler.config. The construct sets the others itself.
TUNABLE_SETTINGS = (
    handler_config.MAX_CONSECUTIVE_FAILURES,
    handler_config.RETRY_BASE_SECONDS,
    handler_config.RETRY_MAX_SECONDS,
    handler_config.REQUEUE_DELAY_SECONDS,
    handler_config.MAX_REQUEUES,
    handler_config.CLAIM_LEASE_SECONDS,
    handler_config.MAX_ACTIVE_STEPS,
    handler_config.MAX_BACKFILL_STEPS,
    handler_config.SPARK_CONF,
)


def powertools_layer_arn(scope: Construct, version: int = POWERTOOLS_LAYER_VERSION) -> str:
    """Return the ARN of the Powertools v3 layer for Python 3.12 on x86_64 in ``scope``'s region."""
    python = RUNTIME.name.replace(".", "")
    return (
        f"arn:aws:lambda:{Stack.of(scope).region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-x86_64:{version}"
    )


def handler_code() -> lambda_.Code:
    """Return the handler's code asset, bundled locally: handler, ``okeanos`` and the job registry."""
    files = bundling.handler_bundle()
    return lambda_.Code.from_asset(
        str(bundling.HANDLER_PACKAGE_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundling.content_hash(files.items()),
        bundling=bundling.bundling_options(lambda out: bundling.copy_bundle(files, out)),
    )


class StepSubmitter(Construct):
    """The okeanos handler function, its queues, subscription and EMR event rule.

    Parameters
    ----------
    topic
        The task topic (a :class:`TaskTopic` or any ``sns.ITopic``) the
        function subscribes to and publishes the next cycle of a loop to.
    cluster
        The cluster steps are added to; the function may act on its steps only.
    job_assets
        The job's S3 objects, whose URIs go into every step.
    state_table
        The task-state table (partition key ``task``).
    opensearch_url
        Passed to every step as ``--opensearch-url``. Default: the Spark job's
        own default (``OPENSEARCH_URL`` on the cluster, else a local node).
    index_prefix
        Passed to every step as ``--index-prefix``. Default: ``okeanos``.
    handler_settings
        Values for the handler's tunables (:data:`TUNABLE_SETTINGS`), as
        strings. Default: the handler's own defaults.
    function
        An existing function to wire up instead of a new one, imported with
        its role (``Function.from_function_attributes(..., role=...)``) so the
        grants reach it. Its owner must set its environment to
        :attr:`environment`. Default: a new function.
    function_props
        Overrides for the new function (a dict or ``lambda_.FunctionProps``).
        Default: 256 MB, 60 s timeout, reserved concurrency 5, active tracing,
        a log group kept one month, and the Powertools layer.
    dead_letter_queue
        Queue for messages the function cannot process. Default: a new queue,
        SSE-SQS encrypted, TLS only, keeping messages 14 days.
    dead_letter_queue_props
        Overrides for the new dead-letter queue. Default: as above.
    delay_queue_props
        Overrides for the delay queue, through which the function delays its
        own messages. Default: SSE-SQS encrypted, TLS only, 6 minutes'
        visibility, and 5 receives before the dead-letter queue.
    powertools_layer_version
        Version of the Powertools layer. Default: :data:`POWERTOOLS_LAYER_VERSION`.

    Attributes
    ----------
    function : lambda_.IFunction
        The function created or passed in.
    role : iam.IRole | None
        The new function's execution role; None for an existing function.
    dead_letter_queue, delay_queue : sqs.IQueue
        The queues.
    rule : events.Rule
        The rule sending the cluster's step status changes to the function.
    log_group : logs.LogGroup | None
        The new function's log group.
    environment : dict
        The handler's environment variables, exactly the names in
        ``okeanos_handler.config``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: TopicLike,
        cluster: SparkCluster,
        job_assets: JobAssets,
        state_table: dynamodb.ITable,
        opensearch_url: Optional[str] = None,
        index_prefix: Optional[str] = None,
        handler_settings: Optional[Mapping[str, str]] = None,
        function: Optional[lambda_.IFunction] = None,
        function_props: Props = None,
        dead_letter_queue: Optional[sqs.IQueue] = None,
        dead_letter_queue_props: Props = None,
        delay_queue_props: Props = None,
        powertools_layer_version: Optional[int] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        checker = PropsChecker("StepSubmitter")
        checker.exclusive("function", function, "function_props", function_props)
        checker.only_with_new("function", function, "powertools_layer_version", powertools_layer_version)
        checker.exclusive("dead_letter_queue", dead_letter_queue, "dead_letter_queue_props", dead_letter_queue_props)
        for name in sorted(set(handler_settings or {}) - set(TUNABLE_SETTINGS)):
            checker.add(
                f"handler_settings[{name!r}] is not a handler setting the caller may set; "
                f"allowed: {', '.join(TUNABLE_SETTINGS)}"
            )
        for name, value in sorted((handler_settings or {}).items()):
            if not isinstance(value, str):
                checker.add(f"handler_settings[{name!r}] is {value!r}; environment values must be strings")
        checker.not_overridden(
            "function_props",
            function_props,
            {
                "code": "the construct bundles lambda_src/okeanos_handler",
                "handler": f"the entry point is {HANDLER}",
                "runtime": f"the handler and its Powertools layer target {RUNTIME.name}",
                "environment": "the construct sets exactly the variables the handler reads; use handler_settings",
                "role": "the construct creates a least-privilege role",
                "on_failure": "failed events go to the dead-letter queue",
                "log_group": "the construct creates the log group",
            },
        )
        checker.raise_if_any()

        self.dead_letter_queue: sqs.IQueue = dead_letter_queue or sqs.Queue(
            self,
            "DeadLetterQueue",
            **merge_props(
                {
                    "retention_period": Duration.days(14),
                    "encryption": sqs.QueueEncryption.SQS_MANAGED,
                    "removal_policy": RemovalPolicy.RETAIN,
                },
                dead_letter_queue_props,
                {"enforce_ssl": True},
            ),
        )
        self.delay_queue = sqs.Queue(
            self,
            "DelayQueue",
            **merge_props(
                {
                    "visibility_timeout": Duration.minutes(6),
                    "encryption": sqs.QueueEncryption.SQS_MANAGED,
                    "dead_letter_queue": sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letter_queue),
                },
                delay_queue_props,
                {"enforce_ssl": True},
            ),
        )

        self.environment: Dict[str, str] = {
            handler_config.CLUSTER_ID: cluster.cluster_id,
            handler_config.TASK_TOPIC_ARN: as_topic(topic).topic_arn,
            handler_config.DELAY_QUEUE_URL: self.delay_queue.queue_url,
            handler_config.DEAD_LETTER_QUEUE_URL: self.dead_letter_queue.queue_url,
            handler_config.STATE_TABLE: state_table.table_name,
            # spark-submit takes --py-files as one comma-separated list, so
            # both zips travel in the one argument the handler builds.
            handler_config.JOB_PACKAGE_URI: ",".join(job_assets.py_files_uris),
            handler_config.ENTRY_SCRIPT_URI: job_assets.entry_script_uri,
        }
        if opensearch_url is not None:
            self.environment[handler_config.OPENSEARCH_URL] = opensearch_url
        if index_prefix is not None:
            self.environment[handler_config.INDEX_PREFIX] = index_prefix
        self.environment.update(handler_settings or {})

        self.role: Optional[iam.Role] = None
        self.log_group: Optional[logs.LogGroup] = None
        if function is not None:
            self.function: lambda_.IFunction = function
        else:
            self.function = self._build_function(function_props, powertools_layer_version)

        as_topic(topic).add_subscription(
            subscriptions.LambdaSubscription(self.function, dead_letter_queue=self.dead_letter_queue)
        )
        self.function.add_event_source(
            event_sources.SqsEventSource(self.delay_queue, batch_size=1, report_batch_item_failures=False)
        )
        self.rule = events.Rule(
            self,
            "StepStatusRule",
            description="EMR step status changes of the okeanos cluster, to the step submitter",
            event_pattern=events.EventPattern(
                source=["aws.emr"],
                detail_type=["EMR Step Status Change"],
                detail={"clusterId": [cluster.cluster_id]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=Duration.hours(2),
                )
            ],
        )

        topic.grant_publish(self.function)
        cluster.grant_add_steps(self.function)
        state_table.grant_read_write_data(self.function)
        self.delay_queue.grant_send_messages(self.function)
        self.dead_letter_queue.grant_send_messages(self.function)

    def _build_function(self, user_props: Props, layer_version: Optional[int]) -> lambda_.Function:
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Execution role of the okeanos step submitter",
        )
        # Written here instead of AWSLambdaBasicExecutionRole, whose
        # resources are every log group of the account.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_layer_arn(self, layer_version or POWERTOOLS_LAYER_VERSION)
        )
        props = merge_props(
            {
                "memory_size": 256,
                "timeout": Duration.seconds(60),
                "reserved_concurrent_executions": 5,
                "tracing": lambda_.Tracing.ACTIVE,
                "retry_attempts": 2,
                "max_event_age": Duration.hours(6),
                "layers": [layer],
                "description": "okeanos: validates task messages and submits Spark steps to EMR",
            },
            user_props,
            {
                "code": handler_code(),
                "handler": HANDLER,
                "runtime": RUNTIME,
                "environment": self.environment,
                "role": self.role,
                "log_group": self.log_group,
                "on_failure": destinations.SqsDestination(self.dead_letter_queue),
            },
        )
        function = lambda_.Function(self, "Function", **props)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which have "
            "no resource type, so their resource must be *.",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"The handler is written and tested for {RUNTIME.name}, the runtime of the Powertools "
            "layer it uses; moving to a newer runtime is a deliberate upgrade of both.",
        )
        return function
