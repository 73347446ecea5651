"""TaskTopic and TaskStateTable: defaults, overrides, existing resources, conflicts."""

from __future__ import annotations

import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match

from okeanos_stack import OkeanosPropsError, TaskStateTable, TaskTopic
from tests.cdk_support import find_one, new_stack, policy_statements, resources, synth

EXISTING_TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:existing-tasks"


@pytest.fixture(scope="module")
def built():
    app, stack = new_stack()
    publisher = iam.ArnPrincipal("arn:aws:iam::222222222222:role/publisher")
    default_topic = TaskTopic(stack, "BaseTopic", publisher_principals=[publisher])
    override_topic = TaskTopic(stack, "OverrideTopic", topic_props={"display_name": "custom", "topic_name": "custom-tasks"})
    existing_topic = TaskTopic(
        stack, "ExistingTopic", topic=sns.Topic.from_topic_arn(stack, "Imported", EXISTING_TOPIC_ARN)
    )
    role = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    default_topic.grant_publish(role)

    default_table = TaskStateTable(stack, "BaseTable")
    key = kms.Key(stack, "TableKey", enable_key_rotation=True)
    cmk_table = TaskStateTable(stack, "CmkTable", encryption_key=key, table_props={"table_name": "custom-state"})
    existing_table = TaskStateTable(
        stack, "ExistingTable", table=dynamodb.Table.from_table_name(stack, "ImportedTable", "existing-state")
    )
    return {
        "template": synth(stack),
        "default_topic": default_topic,
        "existing_topic": existing_topic,
        "override_topic": override_topic,
        "existing_table": existing_table,
        "cmk_table": cmk_table,
        "default_table": default_table,
        "stack": stack,
    }


def test_topic_default_encrypted_with_rotating_key(built):
    template = built["template"]
    topic = find_one(template, "AWS::SNS::Topic", lambda p: p.get("DisplayName") == "okeanos tasks")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.to_json()["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True


def test_topic_default_denies_requests_without_tls(built):
    statements = [s for _, s in policy_statements(built["template"]) if s["Effect"] == "Deny"]
    conditions = [s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") for s in statements]
    assert "false" in conditions


def test_topic_publisher_principal_allowed_by_policy(built):
    allowed = [
        s
        for _, s in policy_statements(built["template"])
        if s["Effect"] == "Allow" and s.get("Action") == "sns:Publish" and "Principal" in s
    ]
    assert [s["Principal"]["AWS"] for s in allowed] == ["arn:aws:iam::222222222222:role/publisher"]


def test_topic_grant_publish_has_no_wildcard_kms_action(built):
    actions = [
        action
        for logical_id, s in policy_statements(built["template"])
        if logical_id.startswith("PublisherDefaultPolicy")
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert sorted(actions) == ["kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"]


def test_topic_override_props_applied(built):
    built["template"].has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "custom-tasks", "DisplayName": "custom", "KmsMasterKeyId": Match.any_value()}
    )


def test_topic_existing_used_as_is(built):
    assert built["existing_topic"].topic_arn == EXISTING_TOPIC_ARN


def test_topic_existing_has_no_key(built):
    assert built["existing_topic"].encryption_key is None


def test_topic_count_excludes_existing(built):
    assert len(resources(built["template"], "AWS::SNS::Topic")) == 2


def test_topic_conflicts_reported_together():
    _, stack = new_stack()
    imported = sns.Topic.from_topic_arn(stack, "Imported", EXISTING_TOPIC_ARN)
    with pytest.raises(OkeanosPropsError) as raised:
        TaskTopic(
            stack,
            "Bad",
            topic=imported,
            topic_props={"display_name": "x", "master_key": None},
            encryption_key=kms.Key(stack, "K"),
        )
    assert str(raised.value) == (
        "TaskTopic: invalid props:\n"
        "  - topic and topic_props are both set; pass an existing resource in topic or props "
        "for a new one in topic_props, not both\n"
        "  - encryption_key is set, but topic is also set and encryption_key only applies to "
        "a new resource; remove one of them\n"
        "  - topic_props['master_key'] cannot be overridden: pass the key in encryption_key"
    )


def test_table_default_settings(built):
    built["template"].has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": "task", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "task", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "DeletionProtectionEnabled": True,
                    "SSESpecification": {"SSEEnabled": True},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_table_customer_managed_key(built):
    built["template"].has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "custom-state",
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
        },
    )


def test_table_existing_used_as_is(built):
    assert built["stack"].resolve(built["existing_table"].table_name) == "existing-state"


def test_table_count_excludes_existing(built):
    assert len(resources(built["template"], "AWS::DynamoDB::Table")) == 2


def test_table_conflicts_reported_together():
    _, stack = new_stack()
    imported = dynamodb.Table.from_table_name(stack, "Imported", "existing-state")
    with pytest.raises(OkeanosPropsError) as raised:
        TaskStateTable(
            stack,
            "Bad",
            table=imported,
            table_props={"partition_key": dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)},
        )
    assert raised.value.problems == [
        "table and table_props are both set; pass an existing resource in table or props for a new one "
        "in table_props, not both",
        "table_props['partition_key'] cannot be overridden: the handler reads items by the string key 'task'",
    ]
