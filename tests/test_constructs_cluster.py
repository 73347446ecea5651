"""SparkCluster: defaults, overrides, an existing VPC, an existing cluster, conflicts, grants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from okeanos_stack import EMR_RELEASE_LABEL, EMR_SPARK_VERSION, OkeanosPropsError, SparkCluster
from okeanos_stack.spark_cluster import STEP_ACTIONS
from tests.cdk_support import as_list, find_one, new_stack, policy_statements, resources, synth

REQUIREMENTS_PATH = Path(__file__).resolve().parents[1] / "requirements.txt"


@pytest.fixture(scope="module")
def built():
    _, stack = new_stack()
    default = SparkCluster(stack, "Base")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "ExistingVpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        isolated_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    )
    overridden = SparkCluster(
        stack,
        "Overridden",
        vpc=vpc,
        log_bucket=s3.Bucket.from_bucket_name(stack, "Logs", "existing-logs"),
        core_instance_type="r5.xlarge",
        core_instance_count=3,
        max_capacity=9,
        step_concurrency_level=8,
        termination_protected=False,
        cluster_props={"name": "custom-spark", "ebs_root_volume_size": 64},
    )
    role = iam.Role.from_role_arn(stack, "JobRole", "arn:aws:iam::111111111111:role/emr-job", mutable=True)
    existing = SparkCluster(stack, "Existing", existing_cluster_id="j-1ABCDEFGHIJKL", existing_instance_role=role)
    submitter = iam.Role(stack, "Submitter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    existing.grant_add_steps(submitter)
    return {"template": synth(stack), "default": default, "overridden": overridden, "existing": existing, "stack": stack}


def _cluster(template, name):
    return find_one(template, "AWS::EMR::Cluster", lambda p: p["Name"] == name)


def _default_cluster(template):
    # The default name is the stack's name plus "-spark".
    return _cluster(template, "Test-spark")["Properties"]


def test_release_matches_pinned_pyspark():
    pins = (REQUIREMENTS_PATH.read_text()).splitlines()
    assert f"pyspark=={EMR_SPARK_VERSION}" in pins


def test_cluster_default_release_label(built):
    assert _default_cluster(built["template"])["ReleaseLabel"] == EMR_RELEASE_LABEL


def test_cluster_default_step_concurrency(built):
    assert _default_cluster(built["template"])["StepConcurrencyLevel"] == 4


def test_cluster_default_termination_protected(built):
    assert _default_cluster(built["template"])["Instances"]["TerminationProtected"] is True


def test_cluster_default_stays_alive(built):
    assert _default_cluster(built["template"])["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True


def test_cluster_default_managed_scaling(built):
    limits = _default_cluster(built["template"])["ManagedScalingPolicy"]["ComputeLimits"]
    assert (limits["MinimumCapacityUnits"], limits["MaximumCapacityUnits"]) == (3, 6)


def test_cluster_default_uses_spark(built):
    assert _default_cluster(built["template"])["Applications"] == [{"Name": "Spark"}]


def test_security_configuration_encrypts_local_disk_with_kms(built):
    configs = resources(built["template"], "AWS::EMR::SecurityConfiguration")
    local_disk = [
        c["Properties"]["SecurityConfiguration"]["EncryptionConfiguration"]["AtRestEncryptionConfiguration"][
            "LocalDiskEncryptionConfiguration"
        ]
        for c in configs.values()
    ]
    assert local_disk[0]["EncryptionKeyProviderType"] == "AwsKms"


def test_security_configuration_encrypts_s3(built):
    configs = resources(built["template"], "AWS::EMR::SecurityConfiguration")
    s3_modes = [
        c["Properties"]["SecurityConfiguration"]["EncryptionConfiguration"]["AtRestEncryptionConfiguration"][
            "S3EncryptionConfiguration"
        ]["EncryptionMode"]
        for c in configs.values()
    ]
    assert s3_modes == ["SSE-S3", "SSE-S3"]


def test_log_bucket_default_is_private_encrypted_expiring(built):
    buckets = [
        b["Properties"] for b in resources(built["template"], "AWS::S3::Bucket").values() if "LifecycleConfiguration" in b["Properties"]
    ]
    assert len(buckets) == 1
    bucket = buckets[0]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30


def test_log_bucket_denies_requests_without_tls(built):
    denies = [
        s
        for logical_id, s in policy_statements(built["template"])
        if logical_id.startswith("BaseLogBucketPolicy") and s["Effect"] == "Deny"
    ]
    assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_new_vpc_has_no_internet_route(built):
    template = built["template"]
    assert resources(template, "AWS::EC2::InternetGateway") == {}
    assert resources(template, "AWS::EC2::NatGateway") == {}


def test_new_vpc_has_endpoints(built):
    endpoints = resources(built["template"], "AWS::EC2::VPCEndpoint").values()
    names = sorted(json.dumps(e["Properties"]["ServiceName"]) for e in endpoints)
    for service in ("elasticmapreduce", "kms", "monitoring", "sts", ".s3", "dynamodb"):
        assert any(service in name for name in names), service


def test_override_props_applied(built):
    cluster = _cluster(built["template"], "custom-spark")["Properties"]
    assert cluster["EbsRootVolumeSize"] == 64
    assert cluster["StepConcurrencyLevel"] == 8
    assert cluster["Instances"]["TerminationProtected"] is False
    assert cluster["Instances"]["CoreInstanceGroup"] == {
        "InstanceCount": 3,
        "InstanceType": "r5.xlarge",
        "Market": "ON_DEMAND",
    }


def test_existing_vpc_subnet_used(built):
    cluster = _cluster(built["template"], "custom-spark")["Properties"]
    assert cluster["Instances"]["Ec2SubnetId"] == "subnet-0aaaaaaaaaaaaaaa1"


def test_existing_log_bucket_used(built):
    cluster = _cluster(built["template"], "custom-spark")["Properties"]
    assert cluster["LogUri"] == "s3://existing-logs/emr-logs/"


def test_existing_cluster_creates_nothing(built):
    assert built["existing"].cluster is None
    assert len(resources(built["template"], "AWS::EMR::Cluster")) == 2


def test_grant_add_steps_scoped_to_cluster(built):
    statements = [s for logical_id, s in policy_statements(built["template"]) if logical_id.startswith("SubmitterDefaultPolicy")]
    assert len(statements) == 1
    assert sorted(as_list(statements[0]["Action"])) == sorted(STEP_ACTIONS)
    assert statements[0]["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":elasticmapreduce:", {"Ref": "AWS::Region"}, ":",
             {"Ref": "AWS::AccountId"}, ":cluster/j-1ABCDEFGHIJKL"],
        ]
    }


def test_service_role_may_pass_only_instance_role(built):
    passes = [s for _, s in policy_statements(built["template"]) if s.get("Action") == "iam:PassRole"]
    assert all("InstanceRole" in json.dumps(s["Resource"]) for s in passes)


def test_conflicts_reported_together():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        SparkCluster(
            stack,
            "Bad",
            existing_cluster_id="j-1ABCDEFGHIJKL",
            core_instance_count=2,
            step_concurrency_level=300,
            cluster_props={"release_label": "emr-6.15.0"},
        )
    assert raised.value.problems == [
        "cluster_props is set, but existing_cluster_id is also set and cluster_props only applies to a new "
        "resource; remove one of them",
        "core_instance_count is set, but existing_cluster_id is also set and core_instance_count only applies "
        "to a new resource; remove one of them",
        "step_concurrency_level is set, but existing_cluster_id is also set and step_concurrency_level only "
        "applies to a new resource; remove one of them",
        "step_concurrency_level is 300; EMR accepts 1 to 256",
        "cluster_props['release_label'] cannot be overridden: pass release_label instead",
    ]


def test_invalid_cluster_id_rejected():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        SparkCluster(stack, "Bad", existing_cluster_id="cluster-1")
    assert raised.value.problems == [
        "existing_cluster_id 'cluster-1' is not an EMR cluster id such as j-2AXXXXXXGAPLF"
    ]


def test_capacity_below_core_count_rejected():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        SparkCluster(stack, "Bad", core_instance_count=4, max_capacity=4)
    assert raised.value.problems == [
        "max_capacity is 4; it counts every instance, so it must be at least core_instance_count + 1 "
        "(the primary node) = 5"
    ]
