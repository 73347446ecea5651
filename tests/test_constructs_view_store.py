"""ViewStore: the new domain's settings and access policy, existing domains, conflicts."""

from __future__ import annotations

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk.assertions import Annotations, Match

from okeanos_stack import OkeanosPropsError, ViewStore
from okeanos_stack.view_store import READ_ACTIONS, WRITE_ACTIONS
from tests.cdk_support import as_list, new_stack, policy_statements, resources, synth

READER_ARN = "arn:aws:iam::111111111111:role/analyst"
EXISTING_ENDPOINT = "https://search-views-abc.eu-west-1.es.amazonaws.com"


@pytest.fixture(scope="module")
def built():
    _, stack = new_stack()
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    store = ViewStore(stack, "Views", reader_principals=[iam.ArnPrincipal(READER_ARN)])
    store.grant_write(writer)
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, max_azs=2, subnet_configuration=[
        ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    ])
    client_group = ec2.SecurityGroup(stack, "Clients", vpc=vpc)
    in_vpc = ViewStore(
        stack,
        "VpcViews",
        vpc=vpc,
        allowed_security_groups=[client_group],
        domain_props={
            "capacity": opensearch.CapacityConfig(
                data_node_instance_type="r7g.large.search",
                data_nodes=2,
                master_nodes=3,
                master_node_instance_type="m7g.large.search",
                multi_az_with_standby_enabled=False,
            ),
            "zone_awareness": opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=2),
        },
    )
    existing_domain = opensearch.Domain.from_domain_endpoint(stack, "Imported", EXISTING_ENDPOINT)
    existing = ViewStore(stack, "Existing", domain=existing_domain)
    existing_reader = iam.Role(stack, "ExistingReader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    existing.grant_read(existing_reader)
    by_url = ViewStore(stack, "ByUrl", endpoint_url=EXISTING_ENDPOINT + "/")
    by_url.grant_write(existing_reader)
    return {"template": synth(stack), "store": store, "in_vpc": in_vpc, "by_url": by_url, "stack": stack}


def _domain(template, logical_prefix):
    (domain,) = [
        d["Properties"] for logical_id, d in resources(template, "AWS::OpenSearchService::Domain").items()
        if logical_id.startswith(logical_prefix)
    ]
    return domain


def test_domain_engine_version(built):
    assert _domain(built["template"], "Views")["EngineVersion"] == "OpenSearch_2.19"


def test_domain_encryption_and_https(built):
    domain = _domain(built["template"], "Views")
    assert domain["EncryptionAtRestOptions"] == {"Enabled": True}
    assert domain["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert domain["DomainEndpointOptions"] == {
        "EnforceHTTPS": True,
        "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07",
    }


def test_domain_fine_grained_access_off(built):
    assert "AdvancedSecurityOptions" not in _domain(built["template"], "Views")


def test_domain_publishes_slow_and_app_logs(built):
    assert sorted(_domain(built["template"], "Views")["LogPublishingOptions"]) == [
        "ES_APPLICATION_LOGS",
        "INDEX_SLOW_LOGS",
        "SEARCH_SLOW_LOGS",
    ]


def test_domain_logs_resource_policy_without_custom_resource(built):
    template = built["template"]
    assert len(resources(template, "AWS::Logs::ResourcePolicy")) == 2
    assert resources(template, "Custom::CloudwatchLogResourcePolicy") == {}


def test_access_policy_lists_writer_and_reader(built):
    statements = _domain(built["template"], "Views")["AccessPolicies"]["Statement"]
    by_actions = {tuple(s["Action"]): s for s in statements}
    assert by_actions[WRITE_ACTIONS]["Principal"]["AWS"][0]["Fn::GetAtt"][0].startswith("Writer")
    assert by_actions[READ_ACTIONS]["Principal"]["AWS"] == [READER_ARN]


def test_access_policy_has_no_anonymous_allow(built):
    statements = _domain(built["template"], "Views")["AccessPolicies"]["Statement"]
    assert all(s["Principal"] != {"AWS": "*"} for s in statements if s["Effect"] == "Allow")


def test_grant_write_identity_policy_scoped_to_domain(built):
    statements = [s for logical_id, s in policy_statements(built["template"]) if logical_id.startswith("WriterDefaultPolicy")]
    assert sorted(as_list(statements[0]["Action"])) == sorted(WRITE_ACTIONS)


def test_vpc_domain_spans_two_subnets(built):
    domain = _domain(built["template"], "VpcViews")
    assert len(domain["VPCOptions"]["SubnetIds"]) == 2


def test_vpc_domain_accepts_https_from_clients(built):
    built["template"].has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    )


def test_vpc_domain_override_capacity(built):
    cluster = _domain(built["template"], "VpcViews")["ClusterConfig"]
    assert cluster["DedicatedMasterCount"] == 3
    assert cluster["ZoneAwarenessEnabled"] is True


def test_unused_domain_denies_everyone():
    _, stack = new_stack()
    ViewStore(stack, "Closed")
    domain = _domain(synth(stack), "Closed")
    assert [s["Effect"] for s in domain["AccessPolicies"]["Statement"]] == ["Deny"]


def test_existing_domain_grant_adds_identity_policy(built):
    built["template"].has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like({"Action": list(READ_ACTIONS), "Resource": Match.any_value()})
                ]
            },
            "Roles": [{"Ref": Match.string_like_regexp("ExistingReader")}],
        },
    )


def test_endpoint_url_used_without_trailing_slash(built):
    assert built["by_url"].endpoint_url == EXISTING_ENDPOINT


def test_endpoint_url_grant_warns(built):
    Annotations.from_stack(built["stack"]).has_warning("/Test/ByUrl", Match.string_like_regexp("grant_write did nothing"))


def test_domain_count_excludes_existing(built):
    assert len(resources(built["template"], "AWS::OpenSearchService::Domain")) == 2


def test_conflicts_reported_together():
    _, stack = new_stack()
    with pytest.raises(OkeanosPropsError) as raised:
        ViewStore(
            stack,
            "Bad",
            endpoint_url="http://views.local:9200",
            domain_props={"enforce_https": False},
        )
    assert raised.value.problems == [
        "endpoint_url and domain_props are both set; pass an existing resource in endpoint_url or props for a "
        "new one in domain_props, not both",
        "endpoint_url 'http://views.local:9200' must start with https://; the domain enforces HTTPS",
        "domain_props['enforce_https'] cannot be overridden: HTTPS is always enforced",
    ]
