"""Deployment environments, read from the CDK context key ``okeanos:environments``.

``cdk.json`` contains one entry per environment (``dev``, ``prod``, ...);
``cdk synth -c env=dev`` picks one. Every key is checked before any construct
is built, and each error names the key by its path, for example
``okeanos:environments.prod.cluster.max_capacity``.

Keys of an environment:

``account`` (required)
    12-digit AWS account id.
``region`` (required)
    AWS region, such as ``eu-west-1``.
``cluster``
    Arguments of :class:`~okeanos_stack.spark_cluster.SparkCluster`:
    ``master_instance_type``, ``core_instance_type``, ``core_instance_count``,
    ``max_capacity``, ``step_concurrency_level``, ``log_retention_days``.
``existing_cluster_id``, ``existing_instance_role_arn``
    Use a running EMR cluster instead, in which case ``cluster`` must be empty.
``vpc``
    An existing VPC, without a context lookup: ``vpc_id``,
    ``availability_zones`` and ``private_subnet_ids`` (one per zone).
``view_store``
    ``data_node_instance_type``, ``data_nodes``, ``master_node_instance_type``,
    ``master_nodes``, ``volume_size_gib``, ``zone_awareness`` (true or false);
    or ``endpoint_url`` of an existing domain.
``reader_role_arns``, ``publisher_role_arns``
    IAM roles allowed to read the views and to publish task messages.
``alarm_topic_arn``
    SNS topic notified by every alarm.
``index_prefix``
    Prefix of every view index.
``tasks``
    Tasks, each with the arguments of
    :class:`~okeanos_stack.continuous_aggregation.ContinuousAggregation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from aws_cdk import Environment
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_sns as sns
from constructs import Construct

from okeanos.exceptions import ConfigurationError

CONTEXT_KEY = "okeanos:environments"
ENV_CONTEXT_KEY = "env"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

_CLUSTER_KEYS = {
    "master_instance_type": str,
    "core_instance_type": str,
    "core_instance_count": int,
    "max_capacity": int,
    "step_concurrency_level": int,
    "log_retention_days": int,
}
_VIEW_STORE_KEYS = {
    "data_node_instance_type": str,
    "data_nodes": int,
    "master_node_instance_type": str,
    "master_nodes": int,
    "volume_size_gib": int,
    "zone_awareness": bool,
    "endpoint_url": str,
}
_VPC_KEYS = {"vpc_id": str, "availability_zones": list, "private_subnet_ids": list}
_TASK_KEYS = {
    "task": str,
    "job": str,
    "input_uri": str,
    "input_format": str,
    "lastnhours": int,
    "interval_seconds": int,
    "continuous": bool,
    "backfill_schedule": str,
    "backfill_hours": int,
}
_TASK_REQUIRED = ("task", "job", "input_uri", "input_format")
_TOP_KEYS = {
    "account": str,
    "region": str,
    "cluster": dict,
    "existing_cluster_id": str,
    "existing_instance_role_arn": str,
    "vpc": dict,
    "view_store": dict,
    "reader_role_arns": list,
    "publisher_role_arns": list,
    "alarm_topic_arn": str,
    "index_prefix": str,
    "tasks": list,
}


@dataclass(frozen=True)
class EnvironmentConfig:
    """One validated environment of ``okeanos:environments``."""

    name: str
    account: str
    region: str
    cluster: Mapping[str, Any] = field(default_factory=dict)
    existing_cluster_id: Optional[str] = None
    existing_instance_role_arn: Optional[str] = None
    vpc: Optional[Mapping[str, Any]] = None
    view_store: Mapping[str, Any] = field(default_factory=dict)
    reader_role_arns: Tuple[str, ...] = ()
    publisher_role_arns: Tuple[str, ...] = ()
    alarm_topic_arn: Optional[str] = None
    index_prefix: Optional[str] = None
    tasks: Tuple[Mapping[str, Any], ...] = ()

    def cdk_environment(self) -> Environment:
        """Return the CDK environment (account and region) of the stack."""
        return Environment(account=self.account, region=self.region)

    def pipeline_kwargs(self, scope: Construct) -> Dict[str, Any]:
        """Return the keyword arguments of :class:`OkeanosPipeline` for this environment.

        Existing resources are imported into ``scope`` by ARN or id, never looked up.
        """
        kwargs: Dict[str, Any] = {"tasks": [dict(task) for task in self.tasks]}
        cluster_options: Dict[str, Any] = dict(self.cluster)
        if self.existing_cluster_id:
            cluster_options["existing_cluster_id"] = self.existing_cluster_id
            if self.existing_instance_role_arn:
                cluster_options["existing_instance_role"] = iam.Role.from_role_arn(
                    scope, "ExistingInstanceRole", self.existing_instance_role_arn
                )
        if self.vpc:
            cluster_options["vpc"] = ec2.Vpc.from_vpc_attributes(
                scope,
                "ExistingVpc",
                vpc_id=self.vpc["vpc_id"],
                availability_zones=list(self.vpc["availability_zones"]),
                isolated_subnet_ids=list(self.vpc["private_subnet_ids"]),
            )
        kwargs["cluster_options"] = cluster_options
        kwargs["view_store_options"] = _view_store_options(self.view_store)
        kwargs["reader_principals"] = [iam.ArnPrincipal(arn) for arn in self.reader_role_arns]
        kwargs["publisher_principals"] = [iam.ArnPrincipal(arn) for arn in self.publisher_role_arns]
        if self.alarm_topic_arn:
            kwargs["alarm_topic"] = sns.Topic.from_topic_arn(scope, "AlarmTopic", self.alarm_topic_arn)
        if self.index_prefix:
            kwargs["index_prefix"] = self.index_prefix
        return kwargs


def _view_store_options(values: Mapping[str, Any]) -> Dict[str, Any]:
    if "endpoint_url" in values:
        return {"endpoint_url": values["endpoint_url"]}
    if not values:
        return {}
    capacity = {
        "data_node_instance_type": values.get("data_node_instance_type", "t3.medium.search"),
        "data_nodes": values.get("data_nodes", 1),
        "multi_az_with_standby_enabled": False,
    }
    if values.get("master_nodes"):
        capacity["master_nodes"] = values["master_nodes"]
        capacity["master_node_instance_type"] = values.get("master_node_instance_type", "m7g.large.search")
    props: Dict[str, Any] = {
        "capacity": opensearch.CapacityConfig(**capacity),
        "ebs": opensearch.EbsOptions(
            volume_size=values.get("volume_size_gib", 20), volume_type=ec2.EbsDeviceVolumeType.GP3
        ),
    }
    if values.get("zone_awareness"):
        props["zone_awareness"] = opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=2)
    return {"domain_props": props}


def load_environment(context: Mapping[str, Any], name: Optional[str]) -> EnvironmentConfig:
    """Validate and return environment ``name`` of the ``okeanos:environments`` context.

    Raises
    ------
    ConfigurationError
        Listing every invalid key, each named by its path.
    """
    environments = context.get(CONTEXT_KEY)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigurationError(
            f"context key {CONTEXT_KEY!r} is missing or empty; define the environments in cdk.json"
        )
    if not name:
        raise ConfigurationError(
            f"no environment selected; run with -c {ENV_CONTEXT_KEY}=<name>, "
            f"one of: {', '.join(sorted(environments))}"
        )
    if name not in environments:
        raise ConfigurationError(
            f"environment {name!r} is not defined in {CONTEXT_KEY}; defined: {', '.join(sorted(environments))}"
        )
    path = f"{CONTEXT_KEY}.{name}"
    problems: List[str] = []
    if not _ENV_NAME.match(name):
        problems.append(f"{path}: the name must be lower-case letters, digits and '-', starting with a letter")
    raw = environments[name]
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{path} must be an object, got {type(raw).__name__}")

    _check_keys(raw, _TOP_KEYS, path, problems, required=("account", "region"))
    if isinstance(raw.get("account"), str) and not _ACCOUNT.match(raw["account"]):
        problems.append(f"{path}.account: {raw['account']!r} is not a 12-digit AWS account id")
    if isinstance(raw.get("region"), str) and not _REGION.match(raw["region"]):
        problems.append(f"{path}.region: {raw['region']!r} is not an AWS region such as eu-west-1")
    cluster = raw.get("cluster") or {}
    if isinstance(cluster, Mapping):
        _check_keys(cluster, _CLUSTER_KEYS, f"{path}.cluster", problems)
        if cluster and raw.get("existing_cluster_id"):
            problems.append(f"{path}.cluster: must be empty when existing_cluster_id is set")
    if raw.get("existing_instance_role_arn") and not raw.get("existing_cluster_id"):
        problems.append(f"{path}.existing_instance_role_arn: only applies with existing_cluster_id")
    if isinstance(raw.get("vpc"), Mapping):
        _check_keys(raw["vpc"], _VPC_KEYS, f"{path}.vpc", problems, required=tuple(_VPC_KEYS))
        if raw.get("existing_cluster_id"):
            problems.append(f"{path}.vpc: only applies to a new cluster, but existing_cluster_id is set")
    view_store = raw.get("view_store") or {}
    if isinstance(view_store, Mapping):
        _check_keys(view_store, _VIEW_STORE_KEYS, f"{path}.view_store", problems)
        if "endpoint_url" in view_store and len(view_store) > 1:
            problems.append(f"{path}.view_store: endpoint_url excludes every other key")
    for key, pattern, what in (
        ("reader_role_arns", _ROLE_ARN, "an IAM role ARN"),
        ("publisher_role_arns", _ROLE_ARN, "an IAM role ARN"),
    ):
        for index, value in enumerate(raw.get(key) or []):
            if not isinstance(value, str) or not pattern.match(value):
                problems.append(f"{path}.{key}[{index}]: {value!r} is not {what}")
    if isinstance(raw.get("alarm_topic_arn"), str) and not _TOPIC_ARN.match(raw["alarm_topic_arn"]):
        problems.append(f"{path}.alarm_topic_arn: {raw['alarm_topic_arn']!r} is not an SNS topic ARN")
    tasks = raw.get("tasks") or []
    if isinstance(tasks, list):
        for index, task in enumerate(tasks):
            task_path = f"{path}.tasks[{index}]"
            if not isinstance(task, Mapping):
                problems.append(f"{task_path}: must be an object, got {type(task).__name__}")
                continue
            _check_keys(task, _TASK_KEYS, task_path, problems, required=_TASK_REQUIRED)
    if problems:
        raise ConfigurationError("invalid environment configuration:\n" + "\n".join(f"  - {p}" for p in problems))

    return EnvironmentConfig(
        name=name,
        account=raw["account"],
        region=raw["region"],
        cluster=dict(cluster),
        existing_cluster_id=raw.get("existing_cluster_id"),
        existing_instance_role_arn=raw.get("existing_instance_role_arn"),
        vpc=dict(raw["vpc"]) if raw.get("vpc") else None,
        view_store=dict(view_store),
        reader_role_arns=tuple(raw.get("reader_role_arns") or ()),
        publisher_role_arns=tuple(raw.get("publisher_role_arns") or ()),
        alarm_topic_arn=raw.get("alarm_topic_arn"),
        index_prefix=raw.get("index_prefix"),
        tasks=tuple(dict(task) for task in tasks),
    )


def _check_keys(
    values: Mapping[str, Any],
    schema: Mapping[str, type],
    path: str,
    problems: List[str],
    required: Sequence[str] = (),
) -> None:
    for key in required:
        if key not in values:
            problems.append(f"{path}.{key}: required but missing")
    for key, value in values.items():
        if key not in schema:
            problems.append(f"{path}.{key}: unknown key; known keys: {', '.join(sorted(schema))}")
            continue
        expected = schema[key]
        if value is None:
            continue
        valid = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not valid:
            problems.append(f"{path}.{key}: expected {expected.__name__}, got {value!r}")
