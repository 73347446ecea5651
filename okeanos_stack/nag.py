"""cdk-nag registration: the AwsSolutions rules as a CDK policy-validation plugin.

cdk-nag 3 packs implement ``IPolicyValidationPlugin`` and are registered with
``Validations.of(app).add_plugins(...)`` (cdk-nag 3 README, "Usage"). Findings
are acknowledged with ``Validations.of(construct).acknowledge(...)``, one
finding id at a time, each with its reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: App) -> AwsSolutionsChecks:
    """Register the AwsSolutions pack on ``app``; findings then fail ``app.synth()``."""
    pack = AwsSolutionsChecks(app)
    Validations.of(app).add_plugins(pack)
    return pack


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding id on ``construct`` and its children, with the reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_grant(grantee: object, finding: str, reason: str) -> None:
    """Acknowledge a finding on the policy of ``grantee`` when it is a construct (a role, say).

    Imported roles and other non-construct principals carry no policy in
    this stack, so there is nothing to acknowledge.
    """
    # Imported roles arrive as jsii interface proxies, not Construct
    # instances, so the check is for a construct node.
    if getattr(grantee, "node", None) is not None:
        acknowledge(grantee, finding, reason)  # type: ignore[arg-type]


def finding_text(scope: IConstruct, value: str) -> str:
    """Return ``value`` (a string that may contain tokens) as cdk-nag writes it in finding ids.

    cdk-nag shows ``{"Ref": X}`` as ``<X>`` and ``{"Fn::GetAtt": [X, Y]}`` as
    ``<X.Y>``, joined with the literal parts.
    """
    return _render(Stack.of(scope).resolve(value))


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding id")
