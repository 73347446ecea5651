"""Environments of the task commands: the local machine, or a deployed stack.

``local`` uses the SQLite task-state store in the state directory. Any other
name ``ENV`` is a deployed environment found from the outputs of the
CloudFormation stack ``okeanos-ENV``:

- ``TaskTopicArn``: the SNS topic that task messages are published to;
- ``StateTableName``: the DynamoDB task-state table (partition key ``task``);
- ``ClusterId``: the EMR cluster that steps run on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from okeanos.exceptions import ConfigurationError
from okeanos.state.base import TaskStateStore

LOCAL = "local"
STACK_PREFIX = "okeanos-"
OUTPUT_TOPIC_ARN = "TaskTopicArn"
OUTPUT_STATE_TABLE = "StateTableName"
OUTPUT_CLUSTER_ID = "ClusterId"
REQUIRED_OUTPUTS = (OUTPUT_TOPIC_ARN, OUTPUT_STATE_TABLE, OUTPUT_CLUSTER_ID)
ENV_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"


@dataclass
class Environment:
    """The collaborators of the task commands in one environment."""

    name: str
    store: TaskStateStore
    topic_arn: Optional[str] = None
    state_table: Optional[str] = None
    cluster_id: Optional[str] = None
    sns_client: Any = None

    @property
    def is_local(self) -> bool:
        """Whether this is the local machine (no topic to publish to)."""
        return self.name == LOCAL

    def publish(self, body: str) -> str:
        """Publish a task message to the environment's topic; return the SNS message id."""
        if self.sns_client is None or self.topic_arn is None:
            raise ConfigurationError(f"environment {self.name!r} has no task topic to publish to")
        response = self.sns_client.publish(TopicArn=self.topic_arn, Message=body)
        return str(response["MessageId"])


def stack_name(env: str) -> str:
    """Return the CloudFormation stack name of environment ``env``."""
    return f"{STACK_PREFIX}{env}"


def open_environment(env: str, *, session: Any = None) -> Environment:
    """Open the environment ``env`` (``local`` or a deployed one).

    Parameters
    ----------
    env
        ``local`` or the name of a deployed environment (stack ``okeanos-<env>``).
    session
        A boto3 session for deployed environments; the default session if not given.

    Raises
    ------
    ConfigurationError
        If ``env`` is not a valid name, no AWS region is set, the stack does
        not exist, or it lacks an output.
    """
    if env == LOCAL:
        from okeanos.local.loop import local_store

        return Environment(name=LOCAL, store=local_store())
    if not re.match(ENV_NAME_PATTERN, env):
        raise ConfigurationError(f"--env {env!r} is invalid; use lower-case letters, digits and '-', e.g. dev")

    if session is None:
        import boto3

        session = boto3.Session()
    from botocore.exceptions import NoRegionError

    try:
        cloudformation = session.client("cloudformation")
    except NoRegionError as exc:
        raise ConfigurationError(
            f"--env {env}: no AWS region is configured; set AWS_REGION or AWS_DEFAULT_REGION "
            "to the region of the stack"
        ) from exc
    outputs = stack_outputs(cloudformation, stack_name(env))
    from okeanos.state.dynamodb import DynamoDbStateStore

    return Environment(
        name=env,
        store=DynamoDbStateStore(outputs[OUTPUT_STATE_TABLE], client=session.client("dynamodb")),
        topic_arn=outputs[OUTPUT_TOPIC_ARN],
        state_table=outputs[OUTPUT_STATE_TABLE],
        cluster_id=outputs[OUTPUT_CLUSTER_ID],
        sns_client=session.client("sns"),
    )


def stack_outputs(cloudformation: Any, name: str) -> Dict[str, str]:
    """Return the outputs of stack ``name`` that the task commands need, by output key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        raise ConfigurationError(
            f"stack {name!r} not found ({exc}); deploy it with 'npx cdk deploy -c env=...' or check --env"
        ) from exc
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise ConfigurationError(
            f"stack {name!r} lacks the output(s) {', '.join(missing)}; redeploy it with this version of okeanos"
        )
    return outputs
