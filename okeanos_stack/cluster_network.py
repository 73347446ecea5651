"""The network of a new EMR cluster: a VPC without internet access, reached through endpoints."""

from __future__ import annotations

from aws_cdk import Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

# AmazonEMRServicePolicy_v2 only acts on EC2 resources carrying this tag.
EMR_MANAGED_POLICY_TAG = "for-use-with-amazon-emr-managed-policies"

# Address range of a new VPC. A literal (not a token) so that security group
# rules built from it can be checked at synth time.
DEFAULT_VPC_CIDR = "10.80.0.0/16"

# Interface endpoints a cluster without internet access needs: EMR itself,
# KMS for local-disk encryption, CloudWatch for the job's metrics, STS for
# SigV4 clients that assume roles. S3 and DynamoDB use gateway endpoints.
_INTERFACE_ENDPOINTS = (
    ("EmrEndpoint", ec2.InterfaceVpcEndpointAwsService.EMR),
    ("KmsEndpoint", ec2.InterfaceVpcEndpointAwsService.KMS),
    ("MonitoringEndpoint", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
    ("StsEndpoint", ec2.InterfaceVpcEndpointAwsService.STS),
)


def build_cluster_vpc(scope: Construct) -> ec2.Vpc:
    """Create the VPC of a new cluster in ``scope``: isolated subnets, endpoints and flow logs."""
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr(DEFAULT_VPC_CIDR),
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(
                name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
            )
        ],
        gateway_endpoints={
            "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
        },
        flow_logs={"FlowLogs": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
    )
    endpoint_group = ec2.SecurityGroup(
        scope, "EndpointSecurityGroup", vpc=vpc, description="okeanos VPC interface endpoints", allow_all_outbound=False
    )
    endpoint_group.add_ingress_rule(ec2.Peer.ipv4(DEFAULT_VPC_CIDR), ec2.Port.tcp(443), "HTTPS from the VPC")
    for endpoint_id, service in _INTERFACE_ENDPOINTS:
        vpc.add_interface_endpoint(
            endpoint_id, service=service, private_dns_enabled=True, open=False, security_groups=[endpoint_group]
        )
    for subnet in vpc.isolated_subnets:
        Tags.of(subnet).add(EMR_MANAGED_POLICY_TAG, "true")
    return vpc
