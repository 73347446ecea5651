"""Helpers for construct tests: build a stack, synthesize it once, read its policies.

Synthesis with aws-cdk-lib runs in a Node.js process and takes seconds, so
each test module builds one app holding every construct variant it checks
and synthesizes it once, in a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Dict, Iterator, List, Tuple

from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from okeanos_stack.nag import add_checks

# Every test that synthesizes runs without credentials or instance metadata.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

TEST_ENV = Environment(account="111111111111", region="eu-west-1")


def new_stack(*, nag: bool = False, stack_id: str = "Test") -> Tuple[App, Stack]:
    """Return a fresh app (writing to a temporary directory) and an environment-agnostic stack.

    With ``nag``, cdk-nag's AwsSolutions pack is registered, so synthesis
    fails on any finding that is not acknowledged.
    """
    app = App(outdir=tempfile.mkdtemp(prefix="okeanos-cdk-"))
    if nag:
        add_checks(app)
    return app, Stack(app, stack_id)


def synth(stack: Stack) -> Template:
    """Synthesize ``stack`` (running every registered validation) and return its template."""
    return Template.from_stack(stack)


def resources(template: Template, resource_type: str) -> Dict[str, Dict[str, Any]]:
    """Return the resources of ``resource_type`` by logical id."""
    return template.find_resources(resource_type)


def policy_statements(template: Template) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield (logical id, statement) for every statement of every IAM policy in the template.

    Covers AWS::IAM::Policy, inline policies of AWS::IAM::Role, and resource
    policies of topics, queues, buckets and keys.
    """
    for logical_id, resource in template.to_json()["Resources"].items():
        properties = resource.get("Properties", {})
        documents: List[Any] = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::Role":
            documents.extend(policy["PolicyDocument"] for policy in properties.get("Policies", []))
        elif resource["Type"] in (
            "AWS::SNS::TopicPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::S3::BucketPolicy",
        ):
            documents.append(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::KMS::Key":
            documents.append(properties["KeyPolicy"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def as_list(value: Any) -> List[Any]:
    """Return ``value`` as a list (IAM allows one item or a list)."""
    return value if isinstance(value, list) else [value]


def find_one(template: Template, resource_type: str, predicate: Callable[[Dict[str, Any]], bool]) -> Dict[str, Any]:
    """Return the single resource of ``resource_type`` whose properties satisfy ``predicate``."""
    matches = [
        resource
        for resource in resources(template, resource_type).values()
        if predicate(resource.get("Properties", {}))
    ]
    assert len(matches) == 1, f"expected one {resource_type} matching, found {len(matches)}"
    return matches[0]


def dumps(value: Any) -> str:
    """Return ``value`` as compact JSON, for substring checks on resolved tokens."""
    return json.dumps(value, sort_keys=True)
