"""The environment variables of the okeanos handler, and their defaults.

The CDK constructs set these on the Lambda function; local mode builds a
:class:`HandlerConfig` directly. Every name is a constant below:

``OKEANOS_CLUSTER_ID`` (required in AWS)
    Id of the long-running EMR cluster that steps are added to (``j-...``).
``OKEANOS_TASK_TOPIC_ARN`` (required in AWS)
    SNS topic of task messages; the next cycle of a loop is published here.
``OKEANOS_DELAY_QUEUE_URL`` (required in AWS)
    SQS queue that the function also consumes. A message that must wait
    (``interval_seconds``, retry backoff, a full cluster) is sent here with
    ``DelaySeconds`` instead of to the topic.
``OKEANOS_DEAD_LETTER_QUEUE_URL`` (required in AWS)
    SQS queue that receives invalid messages, with the reason.
``OKEANOS_STATE_TABLE`` (required in AWS)
    DynamoDB task-state table, partition key ``task`` (string).
``OKEANOS_JOB_PACKAGE_URI`` (required in AWS)
    S3 URI of the zip of the ``okeanos`` and ``okeanos_spark`` packages (``--py-files``).
``OKEANOS_ENTRY_SCRIPT_URI`` (required in AWS)
    S3 URI of ``spark/okeanos_main.py``.
``OKEANOS_OPENSEARCH_URL``
    Passed to the step as ``--opensearch-url``; default: left to the Spark job.
``OKEANOS_INDEX_PREFIX``
    Passed to the step as ``--index-prefix``; default: left to the Spark job.
``OKEANOS_MAX_CONSECUTIVE_FAILURES``
    Failed steps in a row after which a task is marked ``failing``; default 5.
``OKEANOS_RETRY_BASE_SECONDS`` / ``OKEANOS_RETRY_MAX_SECONDS``
    Backoff after a failed step: base times 2 to the power (failures - 1),
    at most the maximum; defaults 60 and 3600.
``OKEANOS_REQUEUE_DELAY_SECONDS``
    Delay before retrying a message that met a full or unavailable cluster; default 60.
``OKEANOS_MAX_REQUEUES``
    Requeues of one message after which it goes to the dead-letter queue; default 100.
``OKEANOS_CLAIM_LEASE_SECONDS``
    Life of a task claim; must exceed the function timeout; default 300.
``OKEANOS_MAX_ACTIVE_STEPS``
    PENDING plus RUNNING steps at which the cluster counts as full; default 256, EMR's limit.
``OKEANOS_MAX_BACKFILL_STEPS``
    PENDING plus RUNNING backfill steps allowed at once; default 2.
``OKEANOS_SPARK_CONF``
    Extra ``spark-submit --conf`` settings, comma separated ``key=value``; default none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from okeanos.exceptions import ConfigurationError

CLUSTER_ID = "OKEANOS_CLUSTER_ID"
TASK_TOPIC_ARN = "OKEANOS_TASK_TOPIC_ARN"
DELAY_QUEUE_URL = "OKEANOS_DELAY_QUEUE_URL"
DEAD_LETTER_QUEUE_URL = "OKEANOS_DEAD_LETTER_QUEUE_URL"
STATE_TABLE = "OKEANOS_STATE_TABLE"
JOB_PACKAGE_URI = "OKEANOS_JOB_PACKAGE_URI"
ENTRY_SCRIPT_URI = "OKEANOS_ENTRY_SCRIPT_URI"
OPENSEARCH_URL = "OKEANOS_OPENSEARCH_URL"
INDEX_PREFIX = "OKEANOS_INDEX_PREFIX"
MAX_CONSECUTIVE_FAILURES = "OKEANOS_MAX_CONSECUTIVE_FAILURES"
RETRY_BASE_SECONDS = "OKEANOS_RETRY_BASE_SECONDS"
RETRY_MAX_SECONDS = "OKEANOS_RETRY_MAX_SECONDS"
REQUEUE_DELAY_SECONDS = "OKEANOS_REQUEUE_DELAY_SECONDS"
MAX_REQUEUES = "OKEANOS_MAX_REQUEUES"
CLAIM_LEASE_SECONDS = "OKEANOS_CLAIM_LEASE_SECONDS"
MAX_ACTIVE_STEPS = "OKEANOS_MAX_ACTIVE_STEPS"
MAX_BACKFILL_STEPS = "OKEANOS_MAX_BACKFILL_STEPS"
SPARK_CONF = "OKEANOS_SPARK_CONF"

REQUIRED = (
    CLUSTER_ID,
    TASK_TOPIC_ARN,
    DELAY_QUEUE_URL,
    DEAD_LETTER_QUEUE_URL,
    STATE_TABLE,
    JOB_PACKAGE_URI,
    ENTRY_SCRIPT_URI,
)

# "You can have up to 256 PENDING and RUNNING steps in a cluster."
# (Amazon EMR Management Guide, "Submit work to an Amazon EMR cluster",
# https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-work-with-steps.html)
EMR_MAX_ACTIVE_STEPS = 256


@dataclass(frozen=True)
class HandlerConfig:
    """Settings of the loop controller; :meth:`from_environ` reads them from the environment."""

    cluster_id: str
    job_package_uri: str
    entry_script_uri: str
    topic_arn: Optional[str] = None
    delay_queue_url: Optional[str] = None
    dead_letter_queue_url: Optional[str] = None
    state_table: Optional[str] = None
    opensearch_url: Optional[str] = None
    index_prefix: Optional[str] = None
    max_consecutive_failures: int = 5
    retry_base_seconds: int = 60
    retry_max_seconds: int = 3600
    requeue_delay_seconds: int = 60
    max_requeues: int = 100
    claim_lease_seconds: int = 300
    max_active_steps: int = EMR_MAX_ACTIVE_STEPS
    max_backfill_steps: int = 2
    spark_conf: Tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "HandlerConfig":
        """Read every setting from ``environ`` (default ``os.environ``).

        Raises
        ------
        ConfigurationError
            Listing every required variable that is missing and every number that is invalid.
        """
        env = os.environ if environ is None else environ
        problems = [f"{name} is not set" for name in REQUIRED if not env.get(name)]
        numbers = {}
        for name, default in (
            (MAX_CONSECUTIVE_FAILURES, 5),
            (RETRY_BASE_SECONDS, 60),
            (RETRY_MAX_SECONDS, 3600),
            (REQUEUE_DELAY_SECONDS, 60),
            (MAX_REQUEUES, 100),
            (CLAIM_LEASE_SECONDS, 300),
            (MAX_ACTIVE_STEPS, EMR_MAX_ACTIVE_STEPS),
            (MAX_BACKFILL_STEPS, 2),
        ):
            text = env.get(name) or str(default)
            if not text.isdigit() or int(text) < 1:
                problems.append(f"{name}={text!r} is not a whole number >= 1")
                continue
            numbers[name] = int(text)
        if numbers.get(MAX_ACTIVE_STEPS, 0) > EMR_MAX_ACTIVE_STEPS:
            problems.append(f"{MAX_ACTIVE_STEPS} must be at most {EMR_MAX_ACTIVE_STEPS}, EMR's limit")
        if problems:
            raise ConfigurationError("okeanos handler configuration is invalid: " + "; ".join(problems))
        conf = tuple(item.strip() for item in (env.get(SPARK_CONF) or "").split(",") if item.strip())
        return cls(
            cluster_id=env[CLUSTER_ID],
            topic_arn=env[TASK_TOPIC_ARN],
            delay_queue_url=env[DELAY_QUEUE_URL],
            dead_letter_queue_url=env[DEAD_LETTER_QUEUE_URL],
            state_table=env[STATE_TABLE],
            job_package_uri=env[JOB_PACKAGE_URI],
            entry_script_uri=env[ENTRY_SCRIPT_URI],
            opensearch_url=env.get(OPENSEARCH_URL) or None,
            index_prefix=env.get(INDEX_PREFIX) or None,
            max_consecutive_failures=numbers[MAX_CONSECUTIVE_FAILURES],
            retry_base_seconds=numbers[RETRY_BASE_SECONDS],
            retry_max_seconds=numbers[RETRY_MAX_SECONDS],
            requeue_delay_seconds=numbers[REQUEUE_DELAY_SECONDS],
            max_requeues=numbers[MAX_REQUEUES],
            claim_lease_seconds=numbers[CLAIM_LEASE_SECONDS],
            max_active_steps=numbers[MAX_ACTIVE_STEPS],
            max_backfill_steps=numbers[MAX_BACKFILL_STEPS],
            spark_conf=conf,
        )
