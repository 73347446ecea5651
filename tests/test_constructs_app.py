"""app.py and cdk.json: environment validation, and `npx cdk synth` of dev and prod through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from okeanos.exceptions import ConfigurationError
from okeanos_stack.environments import CONTEXT_KEY, load_environment

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "prod")


def _context():
    return json.loads((REPO / "cdk.json").read_text())["context"]


def test_environments_defined():
    assert set(ENVIRONMENTS) <= set(_context()[CONTEXT_KEY])


def test_environment_loads_dev():
    config = load_environment(_context(), "dev")
    assert (config.account, config.region) == ("111111111111", "eu-west-1")


def test_environment_missing_name_lists_choices():
    with pytest.raises(ConfigurationError) as raised:
        load_environment(_context(), None)
    assert str(raised.value) == "no environment selected; run with -c env=<name>, one of: dev, prod"


def test_environment_unknown_name():
    with pytest.raises(ConfigurationError) as raised:
        load_environment(_context(), "staging")
    assert str(raised.value) == f"environment 'staging' is not defined in {CONTEXT_KEY}; defined: dev, prod"


def test_environment_errors_name_each_key():
    context = {
        CONTEXT_KEY: {
            "qa": {
                "account": "1234",
                "region": "mars-1",
                "cluster": {"max_capacity": "ten", "cores": 2},
                "tasks": [{"task": "a", "job": "http_status_hourly"}],
            }
        }
    }
    with pytest.raises(ConfigurationError) as raised:
        load_environment(context, "qa")
    assert str(raised.value).splitlines() == [
        "invalid environment configuration:",
        f"  - {CONTEXT_KEY}.qa.account: '1234' is not a 12-digit AWS account id",
        f"  - {CONTEXT_KEY}.qa.region: 'mars-1' is not an AWS region such as eu-west-1",
        f"  - {CONTEXT_KEY}.qa.cluster.max_capacity: expected int, got 'ten'",
        f"  - {CONTEXT_KEY}.qa.cluster.cores: unknown key; known keys: core_instance_count, core_instance_type, "
        "log_retention_days, master_instance_type, max_capacity, step_concurrency_level",
        f"  - {CONTEXT_KEY}.qa.tasks[0].input_uri: required but missing",
        f"  - {CONTEXT_KEY}.qa.tasks[0].input_format: required but missing",
    ]


def test_environment_existing_cluster_excludes_cluster_sizes():
    context = {
        CONTEXT_KEY: {
            "qa": {
                "account": "111111111111",
                "region": "eu-west-1",
                "existing_cluster_id": "j-1ABCDEFGHIJKL",
                "cluster": {"max_capacity": 4},
            }
        }
    }
    with pytest.raises(ConfigurationError) as raised:
        load_environment(context, "qa")
    assert str(raised.value).splitlines()[1] == (
        f"  - {CONTEXT_KEY}.qa.cluster: must be empty when existing_cluster_id is set"
    )


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory):
    """Run `npx cdk synth` for every environment, offline and without credentials."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed; run `npm ci` (make test does)")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    results = {}
    for name in ENVIRONMENTS:
        outdir = tmp_path_factory.mktemp(f"cdk-{name}")
        result = subprocess.run(
            [npx, "--no-install", "cdk", "synth", "-c", f"env={name}", "--quiet", "--no-notices", "-o", str(outdir)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        results[name] = (result, outdir)
    return results


def test_cli_synth_names_stacks(cli_synth):
    for name, (result, outdir) in cli_synth.items():
        assert result.returncode == 0, result.stdout + result.stderr
        manifest = json.loads((outdir / "manifest.json").read_text())
        stacks = sorted(
            artifact["properties"].get("stackName", key)
            for key, artifact in manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        )
        assert stacks == [f"okeanos-{name}"]


def test_cli_synth_needs_no_lookup(cli_synth):
    for name, (_, outdir) in cli_synth.items():
        manifest = json.loads((outdir / "manifest.json").read_text())
        assert manifest.get("missing") is None, name


def test_cli_synth_templates_pass_cfn_lint(cli_synth):
    templates = [str(outdir / f"okeanos-{name}.template.json") for name, (_, outdir) in cli_synth.items()]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--config-file", str(REPO / ".cfnlintrc.yaml"), *templates],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_synth_unknown_environment_fails():
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps({"env": "staging", **_context()})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"environment 'staging' is not defined in {CONTEXT_KEY}" in result.stderr


def test_environment_existing_resources_build_stack():
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from okeanos_stack.stack import OkeanosStack

    context = {
        CONTEXT_KEY: {
            "qa": {
                "account": "111111111111",
                "region": "eu-west-1",
                "vpc": {
                    "vpc_id": "vpc-0123456789abcdef0",
                    "availability_zones": ["eu-west-1a", "eu-west-1b"],
                    "private_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
                },
                "view_store": {"endpoint_url": "https://search-views-abc.eu-west-1.es.amazonaws.com"},
                "reader_role_arns": ["arn:aws:iam::111111111111:role/analyst"],
                "publisher_role_arns": ["arn:aws:iam::222222222222:role/publisher"],
                "alarm_topic_arn": "arn:aws:sns:eu-west-1:111111111111:alarms",
                "index_prefix": "views",
            }
        }
    }
    config = load_environment(context, "qa")
    stack = OkeanosStack(App(), config)
    template = Template.from_stack(stack)
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    assert cluster["Properties"]["Instances"]["Ec2SubnetId"] == "subnet-0aaaaaaaaaaaaaaa1"
    assert template.find_resources("AWS::OpenSearchService::Domain") == {}
    assert stack.stack_name == "okeanos-qa"
    variables = next(iter(template.find_resources("AWS::Lambda::Function").values()))["Properties"]["Environment"]["Variables"]
    assert variables["OKEANOS_OPENSEARCH_URL"] == "https://search-views-abc.eu-west-1.es.amazonaws.com"
    assert variables["OKEANOS_INDEX_PREFIX"] == "views"
