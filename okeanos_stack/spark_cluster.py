"""SparkCluster: the long-running EMR cluster that runs okeanos steps.

Stages of a new cluster: network (an existing VPC or a new one with private
subnets and VPC endpoints), security groups, log bucket, KMS key and
security configuration, IAM roles and instance profile, then the cluster.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from aws_cdk import Duration, RemovalPolicy, Stack, Tags, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from okeanos.task import CLUSTER_ID_PATTERN
from okeanos_stack._props import Props, PropsChecker, merge_props
from okeanos_stack.cluster_network import EMR_MANAGED_POLICY_TAG, build_cluster_vpc
from okeanos_stack.nag import acknowledge, finding_text

# The EMR release and the Spark it ships, which must match the pinned pyspark
# (requirements.txt: pyspark==3.5.6) so that local mode runs the same Spark as
# the cluster. emr-7.12.0 ships Spark 3.5.6-amzn-1 and Python 3.9 as the
# default interpreter (Amazon EMR Release Guide, "Spark release history" and
# "Application versions in Amazon EMR 7.x releases").
EMR_RELEASE_LABEL = "emr-7.12.0"
EMR_SPARK_VERSION = "3.5.6"

DEFAULT_STEP_CONCURRENCY = 4
# "You can specify a minimum of 1 step and a maximum of 256 steps" (Amazon EMR
# API Reference, ModifyCluster, StepConcurrencyLevel).
MAX_STEP_CONCURRENCY = 256

# Actions the step submitter needs on its cluster, and no others.
STEP_ACTIONS = (
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:CancelSteps",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:ListSteps",
)


class SparkCluster(Construct):
    """A long-running EMR cluster with Spark, or an existing cluster by id.

    A new cluster uses :data:`EMR_RELEASE_LABEL`, runs up to
    ``step_concurrency_level`` steps at once, scales with EMR managed
    scaling, keeps running with no steps and has termination protection on.
    Its security configuration encrypts EMRFS data in S3 (SSE-S3) and local
    disks and EBS volumes (with a KMS key). Logs go to an encrypted,
    TLS-only, private bucket whose objects expire after ``log_retention_days``.

    Instance metadata: CfnCluster has no instance metadata option (and EMR
    instance groups take no launch template). Amazon Linux 2023 AMIs, which
    EMR 7 runs, require IMDSv2 by default ("IMDSv2" in the Amazon Linux 2023
    User Guide); EMR components use IMDSv2 since EMR 5.32 and 6.2.

    Parameters
    ----------
    existing_cluster_id
        Use this running cluster (``j-...``) instead of creating one. Every
        prop that shapes a new cluster then conflicts.
    existing_instance_role
        The existing cluster's EC2 instance role, so grants (input read, view
        writes) reach the job. Default: grants to the instance role are
        skipped, which :attr:`instance_role` being None shows.
    vpc
        The VPC of a new cluster. Default: a new VPC with two private
        (isolated) subnets, an S3 and a DynamoDB gateway endpoint, interface
        endpoints for EMR, KMS, CloudWatch and STS, and flow logs. An existing
        VPC needs its subnets tagged ``for-use-with-amazon-emr-managed-policies=true``
        and a route to S3 and EMR.
    vpc_subnets
        Subnets of ``vpc`` for the cluster (the first is used). Default:
        private subnets.
    log_bucket
        Bucket for cluster logs. Default: a new bucket as described above.
    log_bucket_props
        Overrides for the new log bucket. Default: the settings above.
    encryption_key
        KMS key for local-disk and EBS encryption. Default: a new key with
        rotation.
    cluster_props
        Overrides merged into the ``CfnCluster`` props (snake_case keys),
        after the defaults and before what the construct requires (roles,
        security configuration, log URI, instances). Default: none.
    master_instance_type, core_instance_type
        Instance types. Default: ``m5.xlarge`` for both.
    core_instance_count
        Core nodes at start. Default: 2.
    max_capacity
        Upper limit of managed scaling, in instances. Default: 6.
    step_concurrency_level
        Steps that run at once (1 to 256). Default: 4.
    log_retention_days
        Days cluster logs are kept. Default: 30.
    termination_protected
        Whether the cluster is protected from termination. Default: True.
    release_label
        EMR release. Default: :data:`EMR_RELEASE_LABEL`, whose Spark matches
        the pinned pyspark; another release is the caller's responsibility.

    Attributes
    ----------
    cluster_id : str
        The cluster's id (a token for a new cluster).
    cluster_arn : str
        The cluster's ARN.
    cluster : emr.CfnCluster | None
        The new cluster; None for an existing one.
    instance_role : iam.IRole | None
        The EC2 instance role that runs the job.
    service_role, log_bucket, encryption_key, vpc, security_group
        What a new cluster created or used; None for an existing cluster.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_cluster_id: Optional[str] = None,
        existing_instance_role: Optional[iam.IRole] = None,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        log_bucket: Optional[s3.IBucket] = None,
        log_bucket_props: Props = None,
        encryption_key: Optional[kms.IKey] = None,
        cluster_props: Props = None,
        master_instance_type: Optional[str] = None,
        core_instance_type: Optional[str] = None,
        core_instance_count: Optional[int] = None,
        max_capacity: Optional[int] = None,
        step_concurrency_level: Optional[int] = None,
        log_retention_days: Optional[int] = None,
        termination_protected: Optional[bool] = None,
        release_label: Optional[str] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        new_cluster_props = {
            "vpc": vpc,
            "vpc_subnets": vpc_subnets,
            "log_bucket": log_bucket,
            "log_bucket_props": log_bucket_props,
            "encryption_key": encryption_key,
            "cluster_props": cluster_props,
            "master_instance_type": master_instance_type,
            "core_instance_type": core_instance_type,
            "core_instance_count": core_instance_count,
            "max_capacity": max_capacity,
            "step_concurrency_level": step_concurrency_level,
            "log_retention_days": log_retention_days,
            "termination_protected": termination_protected,
            "release_label": release_label,
        }
        checker = PropsChecker("SparkCluster")
        for name, value in new_cluster_props.items():
            checker.only_with_new("existing_cluster_id", existing_cluster_id, name, value)
        checker.exclusive("log_bucket", log_bucket, "log_bucket_props", log_bucket_props)
        if existing_instance_role is not None and existing_cluster_id is None:
            checker.add(
                "existing_instance_role is set without existing_cluster_id; a new cluster "
                "creates its own instance role"
            )
        _check_cluster_id(checker, existing_cluster_id)
        concurrency = DEFAULT_STEP_CONCURRENCY if step_concurrency_level is None else step_concurrency_level
        if not 1 <= concurrency <= MAX_STEP_CONCURRENCY:
            checker.add(f"step_concurrency_level is {concurrency}; EMR accepts 1 to {MAX_STEP_CONCURRENCY}")
        core_count = 2 if core_instance_count is None else core_instance_count
        capacity = 6 if max_capacity is None else max_capacity
        if core_count < 1:
            checker.add(f"core_instance_count is {core_count}; use 1 or more")
        if capacity < core_count + 1:
            checker.add(
                f"max_capacity is {capacity}; it counts every instance, so it must be at least "
                f"core_instance_count + 1 (the primary node) = {core_count + 1}"
            )
        checker.not_overridden(
            "cluster_props",
            cluster_props,
            {
                "instances": "set instance types and counts with the construct's props",
                "job_flow_role": "the construct creates the instance profile",
                "service_role": "the construct creates the service role",
                "security_configuration": "the construct's security configuration encrypts data at rest",
                "log_uri": "pass log_bucket instead",
                "step_concurrency_level": "pass step_concurrency_level instead",
                "release_label": "pass release_label instead",
            },
        )
        checker.raise_if_any()

        self.cluster: Optional[emr.CfnCluster] = None
        self.service_role: Optional[iam.Role] = None
        self.log_bucket: Optional[s3.IBucket] = None
        self.encryption_key: Optional[kms.IKey] = None
        self.vpc: Optional[ec2.IVpc] = None
        self.security_group: Optional[ec2.SecurityGroup] = None
        self.step_concurrency_level = concurrency

        if existing_cluster_id is not None:
            self.cluster_id = existing_cluster_id
            self.instance_role: Optional[iam.IRole] = existing_instance_role
            return

        self.vpc = vpc or build_cluster_vpc(self)
        subnets = self.vpc.select_subnets(
            **_subnet_selection(vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
        )
        security_groups = self._build_security_groups(self.vpc)
        self.log_bucket = log_bucket or self._build_log_bucket(log_bucket_props, log_retention_days or 30)
        self.encryption_key = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts okeanos EMR local disks and EBS volumes",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        security_configuration = self._build_security_configuration(self.encryption_key)
        role = self._build_instance_role()
        self.instance_role = role
        profile = iam.CfnInstanceProfile(self, "InstanceProfile", roles=[role.role_name])
        self.service_role = self._build_service_role(role, subnets, security_groups)
        self.encryption_key.grant(
            role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"
        )
        self.encryption_key.grant(
            self.service_role,
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["s3:PutObject"],
            resource_arns=[self.log_bucket.arn_for_objects("emr-logs/*")],
        )

        core = core_instance_type or "m5.xlarge"
        props = merge_props(
            {
                "name": Stack.of(self).stack_name + "-spark",
                "applications": [emr.CfnCluster.ApplicationProperty(name="Spark")],
                "visible_to_all_users": True,
                "ebs_root_volume_size": 32,
                "managed_scaling_policy": emr.CfnCluster.ManagedScalingPolicyProperty(
                    compute_limits=emr.CfnCluster.ComputeLimitsProperty(
                        unit_type="Instances",
                        minimum_capacity_units=core_count + 1,
                        maximum_capacity_units=capacity,
                        maximum_core_capacity_units=capacity - 1,
                        maximum_on_demand_capacity_units=capacity,
                    )
                ),
                "tags": [{"key": EMR_MANAGED_POLICY_TAG, "value": "true"}],
            },
            cluster_props,
            {
                "release_label": release_label or EMR_RELEASE_LABEL,
                "step_concurrency_level": concurrency,
                "service_role": self.service_role.role_arn,
                "job_flow_role": profile.ref,
                "security_configuration": security_configuration.ref,
                "log_uri": self.log_bucket.s3_url_for_object("emr-logs/"),
                "instances": emr.CfnCluster.JobFlowInstancesConfigProperty(
                    ec2_subnet_id=subnets.subnet_ids[0],
                    emr_managed_master_security_group=security_groups["primary"].security_group_id,
                    emr_managed_slave_security_group=security_groups["core"].security_group_id,
                    service_access_security_group=security_groups["service"].security_group_id,
                    keep_job_flow_alive_when_no_steps=True,
                    termination_protected=True if termination_protected is None else termination_protected,
                    master_instance_group=emr.CfnCluster.InstanceGroupConfigProperty(
                        instance_count=1, instance_type=master_instance_type or "m5.xlarge", market="ON_DEMAND"
                    ),
                    core_instance_group=emr.CfnCluster.InstanceGroupConfigProperty(
                        instance_count=core_count, instance_type=core, market="ON_DEMAND"
                    ),
                ),
            },
        )
        self.cluster = emr.CfnCluster(self, "Cluster", **props)
        self.cluster_id = self.cluster.ref
        self.security_group = security_groups["primary"]
        self._acknowledge_findings(role, log_bucket is None)

    @property
    def cluster_arn(self) -> str:
        """The cluster's ARN, ``arn:<partition>:elasticmapreduce:<region>:<account>:cluster/<id>``."""
        return Stack.of(self).format_arn(
            service="elasticmapreduce", resource="cluster", resource_name=self.cluster_id
        )

    @property
    def security_groups(self) -> List[ec2.ISecurityGroup]:
        """Security groups of the cluster's nodes, for ingress rules of services it calls."""
        return [self._primary_sg, self._core_sg] if self.cluster is not None else []

    def grant_add_steps(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to add, describe, list and cancel steps on this cluster only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(STEP_ACTIONS), resource_arns=[self.cluster_arn]
        )

    def _acknowledge_findings(self, role: iam.Role, new_log_bucket: bool) -> None:
        assert self.cluster is not None and self.service_role is not None and self.log_bucket is not None
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_text(self, self.log_bucket.arn_for_objects('emr-logs/*'))}]",
            "EMR writes logs under keys it chooses below the emr-logs/ prefix; the grant is "
            "s3:PutObject on that prefix of the cluster's own log bucket only.",
        )
        acknowledge(
            self.service_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2]",
            "AmazonEMRServicePolicy_v2 is the service role policy AWS maintains for EMR; it acts only "
            "on resources tagged for-use-with-amazon-emr-managed-policies=true.",
        )
        acknowledge(
            self.cluster,
            "AwsSolutions-EMR4",
            "Local-disk and EBS encryption with a KMS key are on (see the SecurityConfiguration "
            "resource). cdk-nag 3.0.2 reads EnableAtRestEncryption at the top level of the "
            "configuration, but EMR's schema nests it under EncryptionConfiguration.",
        )
        acknowledge(
            self.cluster,
            "AwsSolutions-EMR5",
            "In-transit encryption needs a TLS certificate provider (a PEM zip or custom provider) "
            "that okeanos does not manage; cluster traffic stays inside private subnets without "
            "internet access.",
        )
        acknowledge(
            self.cluster,
            "AwsSolutions-EMR6",
            "Nobody logs in to the nodes: work arrives as EMR steps through the API, which IAM "
            "authenticates, so the cluster has neither a key pair nor Kerberos.",
        )
        if new_log_bucket:
            acknowledge(
                self.log_bucket,
                "AwsSolutions-S1",
                "This bucket only receives the cluster's own logs, written by the instance role; "
                "server access logs of it would need a further bucket and record no other access.",
            )

    def _build_security_groups(self, vpc: ec2.IVpc) -> Dict[str, ec2.SecurityGroup]:
        # EMR adds the rules it needs between these groups itself; they start empty.
        groups = {}
        for key, group_id, description in (
            ("primary", "PrimarySecurityGroup", "okeanos EMR primary node (rules managed by EMR)"),
            ("core", "CoreSecurityGroup", "okeanos EMR core and task nodes (rules managed by EMR)"),
            ("service", "ServiceAccessSecurityGroup", "okeanos EMR service access (rules managed by EMR)"),
        ):
            group = ec2.SecurityGroup(self, group_id, vpc=vpc, description=description, allow_all_outbound=True)
            Tags.of(group).add(EMR_MANAGED_POLICY_TAG, "true")
            groups[key] = group
        self._primary_sg = groups["primary"]
        self._core_sg = groups["core"]
        return groups

    def _build_log_bucket(self, user_props: Props, retention_days: int) -> s3.Bucket:
        props = merge_props(
            {
                "encryption": s3.BucketEncryption.S3_MANAGED,
                "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
                "enforce_ssl": True,
                "versioned": False,
                "removal_policy": RemovalPolicy.RETAIN,
                "lifecycle_rules": [
                    s3.LifecycleRule(
                        expiration=Duration.days(retention_days),
                        abort_incomplete_multipart_upload_after=Duration.days(1),
                    )
                ],
            },
            user_props,
            {},
        )
        return s3.Bucket(self, "LogBucket", **props)

    def _build_security_configuration(self, key: kms.IKey) -> emr.CfnSecurityConfiguration:
        # Schema: "Use security configurations to set up cluster security" in
        # the Amazon EMR Management Guide (EncryptionConfiguration).
        configuration: Dict[str, Any] = {
            "EncryptionConfiguration": {
                "EnableInTransitEncryption": False,
                "EnableAtRestEncryption": True,
                "AtRestEncryptionConfiguration": {
                    "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"},
                    "LocalDiskEncryptionConfiguration": {
                        "EncryptionKeyProviderType": "AwsKms",
                        "AwsKmsKey": key.key_arn,
                        "EnableEbsEncryption": True,
                    },
                },
            }
        }
        return emr.CfnSecurityConfiguration(self, "SecurityConfiguration", security_configuration=configuration)

    def _build_instance_role(self) -> iam.Role:
        # NOTE: the role gets only what okeanos steps use (job assets, task
        # inputs, view writes, metrics, log upload), far less than the
        # EMR_EC2_DefaultRole policy. No deployment has yet confirmed that
        # every EMR 7.12 node agent works with this set.
        return iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Role of okeanos EMR instances; runs the Spark job",
        )

    def _build_service_role(
        self,
        instance_role: iam.Role,
        subnets: ec2.SelectedSubnets,
        security_groups: Dict[str, ec2.SecurityGroup],
    ) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal(
                "elasticmapreduce.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="elasticmapreduce", resource="cluster", resource_name="*"
                        )
                    },
                },
            ),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonEMRServicePolicy_v2")],
            description="Service role of the okeanos EMR cluster",
        )
        # AmazonEMRServicePolicy_v2 passes only the default EMR_EC2_DefaultRole;
        # a custom instance role must be added ("Service role for Amazon EMR
        # (EMR role)" in the Amazon EMR Management Guide).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[instance_role.role_arn],
                conditions={"StringLike": {"iam:PassedToService": "ec2.amazonaws.com"}},
            )
        )
        return role


def _check_cluster_id(checker: PropsChecker, cluster_id: Optional[str]) -> None:
    if cluster_id is None or Token.is_unresolved(cluster_id):
        return
    if not re.match(CLUSTER_ID_PATTERN, cluster_id):
        checker.add(f"existing_cluster_id {cluster_id!r} is not an EMR cluster id such as j-2AXXXXXXGAPLF")


def _subnet_selection(selection: ec2.SubnetSelection) -> Dict[str, Any]:
    return dict(selection._values)

