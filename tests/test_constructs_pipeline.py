"""OkeanosPipeline: the one-statement use under cdk-nag, IAM least privilege, outputs, cfn-lint, docs example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from okeanos_stack import OUTPUT_KEYS, OkeanosPipeline, OkeanosPropsError
from tests.cdk_support import as_list, new_stack, policy_statements, resources, synth

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "constructs.md"

# Statements that must name "*" as their resource, because AWS defines no
# resource type for their actions or because the policy is a key policy.
WILDCARD_RESOURCE_ACTIONS = {
    # X-Ray: "X-Ray does not support resource-level permissions" for these.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    # CloudWatch metrics have no ARN; the grant carries a cloudwatch:namespace condition.
    "cloudwatch:PutMetricData",
}


@pytest.fixture(scope="module")
def built():
    app, stack = new_stack(nag=True)
    # The minimal use: one statement. Synthesis fails on any unacknowledged cdk-nag finding.
    OkeanosPipeline(stack, "Okeanos")
    template = synth(stack)
    return {"template": template, "app": app, "stack": stack}


def test_minimal_pipeline_synthesizes_under_nag(built):
    report = json.loads((Path(built["app"].outdir) / "validation-report.json").read_text())
    failed = [plugin for plugin in report["pluginReports"] if plugin["summary"]["status"] != "success"]
    assert failed == []


def test_nag_rejects_unacknowledged_finding():
    from aws_cdk import aws_sqs as sqs

    _, stack = new_stack(nag=True)
    # No TLS enforcement and no dead-letter queue: AwsSolutions-SQS3 and SQS4.
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        synth(stack)


def test_outputs_have_cli_names(built):
    assert sorted(built["template"].find_outputs("*")) == sorted(OUTPUT_KEYS)


def test_outputs_exported_per_stack(built):
    outputs = built["template"].find_outputs("*")
    assert outputs["TaskTopicArn"]["Export"] == {"Name": "Test-TaskTopicArn"}


def _is_key_policy_delegation(template, logical_id, statement) -> bool:
    # AWS's default key policy: the account root gets kms:* on the key so
    # that IAM policies of the account can grant its use ("Default key
    # policy" in the AWS KMS Developer Guide).
    resource_type = template.to_json()["Resources"][logical_id]["Type"]
    return resource_type == "AWS::KMS::Key" and ":root" in json.dumps(statement.get("Principal"))


def test_no_wildcard_actions(built):
    template = built["template"]
    wildcards = [
        (logical_id, action)
        for logical_id, statement in policy_statements(template)
        # Deny statements (TLS-only policies) may deny every action.
        if statement["Effect"] == "Allow" and not _is_key_policy_delegation(template, logical_id, statement)
        for action in as_list(statement.get("Action", []))
        if "*" in action
    ]
    assert wildcards == []


def test_no_wildcard_resources_outside_exceptions(built):
    offenders = []
    for logical_id, statement in policy_statements(built["template"]):
        if "*" not in as_list(statement.get("Resource", [])):
            continue
        resource_type = built["template"].to_json()["Resources"][logical_id]["Type"]
        if resource_type == "AWS::KMS::Key":
            # In a key policy, "*" means the key itself.
            continue
        if statement["Effect"] == "Deny":
            continue
        if set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS:
            continue
        offenders.append((logical_id, statement["Action"]))
    assert offenders == []


def test_no_service_wide_resource_arns(built):
    pattern = re.compile(r"arn:[^:]*:[a-z0-9-]+:[^:]*:[^:]*:\*\"?$")
    rendered = [
        json.dumps(resource)
        for _, statement in policy_statements(built["template"])
        for resource in as_list(statement.get("Resource", []))
    ]
    assert [r for r in rendered if pattern.search(r) or r.endswith(':::*"')] == []


def test_step_actions_only_on_cluster(built):
    emr = [
        statement
        for _, statement in policy_statements(built["template"])
        if any(action.startswith("elasticmapreduce:") for action in as_list(statement["Action"]))
    ]
    assert len(emr) == 1
    assert "OkeanosCluster" in json.dumps(emr[0]["Resource"])


def test_steps_publish_freshness_and_write_rejects(built):
    functions = resources(built["template"], "AWS::Lambda::Function")
    environments = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions.values()]
    conf = json.dumps([env["OKEANOS_SPARK_CONF"] for env in environments if "OKEANOS_SPARK_CONF" in env])
    assert "spark.yarn.appMasterEnv.OKEANOS_CLOUDWATCH_NAMESPACE=okeanos" in conf
    assert "spark.yarn.appMasterEnv.OKEANOS_REJECTS_URI=s3://" in conf
    assert "OkeanosClusterLogBucket" in conf


def test_rejects_put_only_on_rejects_prefix(built):
    puts = [
        statement
        for _, statement in policy_statements(built["template"])
        if "rejects/*" in json.dumps(statement["Resource"])
    ]
    assert len(puts) == 1
    assert as_list(puts[0]["Action"]) == ["s3:PutObject"]


def test_publish_only_on_task_topic(built):
    publish = [
        statement
        for _, statement in policy_statements(built["template"])
        if "sns:Publish" in as_list(statement["Action"]) and statement["Effect"] == "Allow"
    ]
    resources_named = [json.dumps(statement["Resource"]) for statement in publish]
    assert resources_named and all("OkeanosTaskTopic" in name for name in resources_named)


def test_view_store_in_cluster_vpc(built):
    (domain,) = resources(built["template"], "AWS::OpenSearchService::Domain").values()
    assert "VPCOptions" in domain["Properties"]


def test_template_passes_cfn_lint(built):
    path = Path(built["app"].outdir) / "Test.template.json"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--config-file", str(REPO / ".cfnlintrc.yaml"), str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pipeline_option_conflicts_reported_together():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        OkeanosPipeline(
            stack,
            "Okeanos",
            view_store_options={"vpc": None, "reader_principals": []},
            tasks=[
                {"task": "a", "job": "http_status_hourly", "input_uri": "s3://logs-a/", "input_format": "combined"},
                {"task": "a", "job": "http_status_hourly", "input_uri": "s3://logs-a/", "input_format": "combined",
                 "topic": None},
            ],
        )
    assert raised.value.problems == [
        "view_store_options['reader_principals'] is set by the pipeline itself; remove it",
        "view_store_options['vpc'] is set by the pipeline itself; remove it",
        "tasks[1]['topic'] is set by the pipeline itself; remove it",
        "tasks: task names must be unique; repeated: a",
    ]


def _docs_example() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- tested-example -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"{DOCS} has no block marked <!-- tested-example -->"
    return match.group(1)


def test_docs_example_synthesizes():
    namespace: dict = {}
    exec(compile(_docs_example(), str(DOCS), "exec"), namespace)  # noqa: S102 (the documented example)
    stack: Stack = namespace["stack"]
    template = Template.from_stack(stack)
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::ImportValue": "okeanos-dev-TaskTopicArn"}


def test_existing_cluster_pipeline_synthesizes_under_nag():
    from aws_cdk import aws_iam as iam

    app, stack = new_stack(nag=True)
    role = iam.Role.from_role_arn(stack, "JobRole", "arn:aws:iam::111111111111:role/emr-job")
    pipeline = OkeanosPipeline(
        stack,
        "Okeanos",
        cluster_options={"existing_cluster_id": "j-1ABCDEFGHIJKL", "existing_instance_role": role},
        tasks=[{"task": "web", "job": "http_status_hourly", "input_uri": "s3://logs-a/web/", "input_format": "combined"}],
    )
    template = synth(stack)
    assert resources(template, "AWS::EMR::Cluster") == {}
    assert template.find_outputs("ClusterId")["ClusterId"]["Value"] == "j-1ABCDEFGHIJKL"
    assert "VPCOptions" not in next(iter(resources(template, "AWS::OpenSearchService::Domain").values()))["Properties"]
    assert sorted(pipeline.aggregations) == ["web"]
