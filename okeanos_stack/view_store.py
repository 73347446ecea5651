"""ViewStore: the OpenSearch domain that stores the aggregated views."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

import jsii
from aws_cdk import Annotations, Aspects, IAspect, Names, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct, IConstruct

from okeanos_stack._props import Props, PropsChecker, merge_props, props_to_dict
from okeanos_stack.nag import acknowledge, acknowledge_grant, finding_text

ENGINE_VERSION = opensearch.EngineVersion.OPENSEARCH_2_19

# HTTP methods map to these actions; a search is a POST to _search.
READ_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost")
WRITE_ACTIONS = READ_ACTIONS + ("es:ESHttpDelete", "es:ESHttpPatch", "es:ESHttpPut")


class ViewStore(Construct):
    """An OpenSearch domain for the views, an existing domain, or an endpoint URL.

    The new domain runs OpenSearch 2.19 with encryption at rest,
    node-to-node encryption, HTTPS only with TLS 1.2 or later, and slow-search,
    slow-index and application logs in CloudWatch Logs. Fine-grained access
    control is off, so access is decided by IAM: the domain's access policy
    allows only the principals given to :meth:`grant_write` and
    :meth:`grant_read`, and clients sign requests with SigV4.

    Parameters
    ----------
    domain
        An existing domain. Grants then only add identity policies, because
        the domain's access policy belongs to its owner. Default: a new domain.
    endpoint_url
        The HTTPS URL of an existing domain not managed here. Grants then do
        nothing (a warning is added), since the domain's ARN is unknown.
        Default: a new domain.
    domain_props
        Overrides for the new domain (a dict or ``opensearch.DomainProps``).
        Default: the settings above, one ``t3.medium.search`` data node with
        a 20 GiB gp3 volume.
    vpc
        Put the new domain in this VPC, reachable on port 443 from
        ``allowed_security_groups``. Default: a public endpoint (still
        restricted by the access policy).
    vpc_subnets
        Subnets of ``vpc``; one per availability zone the domain spans.
        Default: the first private subnet, or the first two (or
        ``availability_zone_count``) with zone awareness.
    allowed_security_groups
        Security groups allowed to connect on 443 when the domain is in a
        VPC. Default: none.
    reader_principals
        Principals allowed to read (search) the views. Default: none.
    removal_policy
        What happens to the domain when it leaves the stack. Default: retain.

    Attributes
    ----------
    domain : opensearch.IDomain | None
        The domain created or passed in; None with ``endpoint_url``.
    endpoint_url : str
        ``https://`` URL of the domain.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain: Optional[opensearch.IDomain] = None,
        endpoint_url: Optional[str] = None,
        domain_props: Props = None,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        allowed_security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        reader_principals: Optional[Sequence[iam.IPrincipal]] = None,
        removal_policy: Optional[RemovalPolicy] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        checker = PropsChecker("ViewStore")
        checker.exclusive("domain", domain, "domain_props", domain_props)
        checker.exclusive("endpoint_url", endpoint_url, "domain_props", domain_props)
        if domain is not None and endpoint_url is not None:
            checker.add("domain and endpoint_url are both set; pass one existing domain, either way")
        existing = domain if domain is not None else endpoint_url
        existing_name = "domain" if domain is not None else "endpoint_url"
        for name, value in (
            ("vpc", vpc),
            ("vpc_subnets", vpc_subnets),
            ("allowed_security_groups", allowed_security_groups),
            ("removal_policy", removal_policy),
        ):
            checker.only_with_new(existing_name, existing, name, value)
        if endpoint_url is not None and not endpoint_url.startswith("https://"):
            checker.add(f"endpoint_url {endpoint_url!r} must start with https://; the domain enforces HTTPS")
        checker.not_overridden(
            "domain_props",
            domain_props,
            {
                "version": f"the job is tested against {ENGINE_VERSION.version}",
                "access_policies": "use grant_read and grant_write",
                "encryption_at_rest": "encryption at rest is always on",
                "node_to_node_encryption": "node-to-node encryption is always on",
                "enforce_https": "HTTPS is always enforced",
                "tls_security_policy": "TLS 1.2 is the minimum",
                "vpc": "pass vpc instead",
            },
        )
        checker.raise_if_any()

        self._principal_arns: Dict[str, List[Any]] = {"read": [], "write": []}
        self.domain: Optional[opensearch.IDomain] = domain
        self._new_domain: Optional[opensearch.Domain] = None

        if endpoint_url is not None:
            self.endpoint_url = endpoint_url.rstrip("/")
        elif domain is not None:
            self.endpoint_url = "https://" + domain.domain_endpoint
        else:
            self._new_domain = self._build_domain(
                domain_props, vpc, vpc_subnets, allowed_security_groups, removal_policy
            )
            self.domain = self._new_domain
            self.endpoint_url = "https://" + self._new_domain.domain_endpoint

        for principal in reader_principals or ():
            self.grant_read(principal)

    def grant_write(self, grantee: iam.IGrantable) -> Optional[iam.Grant]:
        """Allow ``grantee`` (the cluster's instance role) to create indices and write documents."""
        return self._grant(grantee, "write", WRITE_ACTIONS)

    def grant_read(self, grantee: iam.IGrantable) -> Optional[iam.Grant]:
        """Allow ``grantee`` to read and search the views."""
        return self._grant(grantee, "read", READ_ACTIONS)

    def _grant(self, grantee: iam.IGrantable, access: str, actions: Sequence[str]) -> Optional[iam.Grant]:
        if self.domain is None:
            Annotations.of(self).add_warning_v2(
                "okeanos:ViewStoreGrantSkipped",
                f"grant_{access} did nothing: the view store is given by endpoint_url, so its domain "
                "ARN is unknown; ask the domain's owner to allow this principal",
            )
            return None
        if self._new_domain is not None:
            self._principal_arns[access].append(grantee.grant_principal.policy_fragment.principal_json.get("AWS"))
            acknowledge_grant(
                grantee,
                f"AwsSolutions-IAM5[Resource::{finding_text(self, self._new_domain.domain_arn + '/*')}]",
                "OpenSearch authorizes each HTTP path (index, _bulk, _search) as domain-ARN/path; "
                "the grant covers paths of this one domain only.",
            )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(actions),
            resource_arns=[self.domain.domain_arn, self.domain.domain_arn + "/*"],
        )

    def _build_domain(
        self,
        user_props: Props,
        vpc: Optional[ec2.IVpc],
        vpc_subnets: Optional[ec2.SubnetSelection],
        allowed_security_groups: Optional[Sequence[ec2.ISecurityGroup]],
        removal_policy: Optional[RemovalPolicy],
    ) -> opensearch.Domain:
        stack = Stack.of(self)
        domain_name = _domain_name(self)
        log_groups = {
            kind: logs.LogGroup(self, f"{kind}Logs", retention=logs.RetentionDays.ONE_MONTH)
            for kind in ("SlowSearch", "SlowIndex", "App")
        }
        network: Dict[str, Any] = {}
        if vpc is not None:
            security_group = ec2.SecurityGroup(
                self, "SecurityGroup", vpc=vpc, description="okeanos OpenSearch domain", allow_all_outbound=False
            )
            for index, peer in enumerate(allowed_security_groups or ()):
                security_group.add_ingress_rule(peer, ec2.Port.tcp(443), f"HTTPS from client group {index}")
            # A zone-aware domain needs one subnet per availability zone it spans.
            zone_awareness = dict(getattr(props_to_dict(user_props).get("zone_awareness"), "_values", {}) or {})
            zones = zone_awareness.get("availability_zone_count", 2) if zone_awareness.get("enabled") else 1
            selection = vpc_subnets or ec2.SubnetSelection(
                subnets=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnets[:zones]
            )
            network = {"vpc": vpc, "vpc_subnets": [selection], "security_groups": [security_group]}
        props = merge_props(
            {
                "domain_name": domain_name,
                "capacity": opensearch.CapacityConfig(
                    data_node_instance_type="t3.medium.search", data_nodes=1, multi_az_with_standby_enabled=False
                ),
                "ebs": opensearch.EbsOptions(volume_size=20, volume_type=ec2.EbsDeviceVolumeType.GP3),
                "removal_policy": removal_policy or RemovalPolicy.RETAIN,
                "enable_version_upgrade": True,
            },
            user_props,
            {
                "version": ENGINE_VERSION,
                "encryption_at_rest": opensearch.EncryptionAtRestOptions(enabled=True),
                "node_to_node_encryption": True,
                "enforce_https": True,
                "tls_security_policy": opensearch.TLSSecurityPolicy.TLS_1_2,
                "logging": opensearch.LoggingOptions(
                    slow_search_log_enabled=True,
                    slow_search_log_group=log_groups["SlowSearch"],
                    slow_index_log_enabled=True,
                    slow_index_log_group=log_groups["SlowIndex"],
                    app_log_enabled=True,
                    app_log_group=log_groups["App"],
                ),
                # The resource policy below replaces CDK's custom resource for it.
                "suppress_logs_resource_policy": True,
                **network,
            },
        )
        domain = opensearch.Domain(self, "Domain", **props)
        self._acknowledge_findings(domain, props)
        if vpc is None:
            acknowledge(
                domain,
                "AwsSolutions-OS1",
                "No VPC was given (an existing cluster outside a VPC okeanos manages), so the domain "
                "has a public endpoint; the access policy admits only the granted IAM principals.",
            )

        # CloudWatch Logs must let the OpenSearch service write to the log
        # groups ("Monitoring OpenSearch logs with Amazon CloudWatch Logs" in
        # the Amazon OpenSearch Service Developer Guide).
        logs.CfnResourcePolicy(
            self,
            "LogsResourcePolicy",
            policy_name=f"{domain_name}-opensearch-logs",
            policy_document=stack.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [group.log_group_arn for group in log_groups.values()],
                            "Condition": {"StringEquals": {"aws:SourceAccount": stack.account}},
                        }
                    ],
                }
            ),
        )

        # The access policy names the domain by its ARN, built from the fixed
        # domain name so the policy does not reference the domain itself. It
        # is set when aspects run, so grants made after construction count.
        resource = stack.format_arn(service="es", resource="domain", resource_name=f"{props['domain_name']}/*")
        cfn_domain: opensearch.CfnDomain = domain.node.default_child  # type: ignore[assignment]
        Aspects.of(self).add(_SetAccessPolicy(cfn_domain.node.path, lambda: self._access_policy(resource)))
        return domain

    def _acknowledge_findings(self, domain: opensearch.Domain, props: Dict[str, Any]) -> None:
        acknowledge(
            domain,
            "AwsSolutions-OS3",
            "Access is limited by IAM: the access policy names the principals granted read or "
            "write, and every request is SigV4-signed. Clients such as the EMR cluster have no "
            "fixed IP addresses to allowlist.",
        )
        capacity = props.get("capacity")
        capacity_values = dict(getattr(capacity, "_values", {}) or {})
        if not capacity_values.get("master_nodes"):
            acknowledge(
                domain,
                "AwsSolutions-OS4",
                "Dedicated master nodes are off by default to keep a small deployment cheap; set "
                "capacity.master_nodes in domain_props for production.",
            )
        zone_awareness = dict(getattr(props.get("zone_awareness"), "_values", {}) or {})
        if not zone_awareness.get("enabled"):
            acknowledge(
                domain,
                "AwsSolutions-OS7",
                "Zone awareness needs two or more data nodes and is off by default to keep a small "
                "deployment cheap; set zone_awareness in domain_props for production.",
            )

    def _access_policy(self, resource: str) -> Dict[str, Any]:
        statements = []
        for access, actions in (("write", WRITE_ACTIONS), ("read", READ_ACTIONS)):
            principals = _flatten(self._principal_arns[access])
            if principals:
                statements.append(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": principals},
                        "Action": list(actions),
                        "Resource": resource,
                    }
                )
        if not statements:
            # An empty policy would leave access to identity policies alone; an
            # explicit deny of everyone keeps an unused domain closed.
            statements.append(
                {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": list(WRITE_ACTIONS), "Resource": resource}
            )
        return {"Version": "2012-10-17", "Statement": statements}


@jsii.implements(IAspect)
class _SetAccessPolicy:
    """Sets the domain's access policy when aspects run, after every grant has been made."""

    def __init__(self, domain_path: str, policy: Callable[[], Dict[str, Any]]) -> None:
        self._domain_path = domain_path
        self._policy = policy

    def visit(self, node: IConstruct) -> None:
        if node.node.path == self._domain_path and isinstance(node, opensearch.CfnDomain):
            node.access_policies = self._policy()


def _domain_name(scope: Construct) -> str:
    # OpenSearch domain names: 3 to 28 characters, lower-case letters, digits
    # and hyphens, starting with a letter.
    name = Names.unique_resource_name(scope, max_length=28, separator="-").lower()
    return name if name[0].isalpha() else "v" + name[1:]


def _flatten(values: List[Any]) -> List[Any]:
    flat: List[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        elif value is not None:
            flat.append(value)
    return flat

