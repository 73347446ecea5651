"""StepSubmitter and JobAssets: environment, bundles, step arguments, queues, rule, conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from okeanos.task import TaskMessage, TaskWindow
from okeanos_handler import config as handler_config
from okeanos_handler.steps import StepAssets, spark_submit_args
from okeanos_spark.registry import job_names
from okeanos_stack import JobAssets, OkeanosPropsError, SparkCluster, StepSubmitter, TaskTopic
from okeanos_stack.step_submitter import HANDLER, POWERTOOLS_LAYER_VERSION
from tests.cdk_support import TEST_ENV, find_one, policy_statements, resources

CLUSTER_ID = "j-1ABCDEFGHIJKL"
OPENSEARCH_URL = "https://search-views-abc.eu-west-1.es.amazonaws.com"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("cdk-out")
    app = App(outdir=str(outdir))
    # An explicit environment makes asset locations plain strings, which the
    # step-argument test compares with the asset manifest.
    stack = Stack(app, "Submitter", env=TEST_ENV)
    topic = TaskTopic(stack, "Topic")
    cluster = SparkCluster(stack, "Cluster", existing_cluster_id=CLUSTER_ID)
    assets = JobAssets(stack, "JobAssets")
    table = dynamodb.Table.from_table_name(stack, "Table", "okeanos-state")
    submitter = StepSubmitter(
        stack,
        "StepSubmitter",
        topic=topic,
        cluster=cluster,
        job_assets=assets,
        state_table=table,
        opensearch_url=OPENSEARCH_URL,
        index_prefix="views",
        handler_settings={handler_config.MAX_BACKFILL_STEPS: "3"},
    )
    template = Template.from_stack(stack)
    manifest = json.loads((outdir / "Submitter.assets.json").read_text())
    return {
        "template": template,
        "submitter": submitter,
        "assets": assets,
        "stack": stack,
        "outdir": outdir,
        "manifest": manifest,
    }


def _function(template):
    return find_one(template, "AWS::Lambda::Function", lambda p: p.get("Handler") == HANDLER)["Properties"]


def _asset_dir(built, construct):
    """Return the staged directory of a directory asset in cdk.out."""
    return built["outdir"] / built["stack"].resolve(construct.asset_path)


def _s3_uri(built, asset):
    hash_ = built["stack"].resolve(asset.asset_hash)
    destination = built["manifest"]["files"][hash_]["destinations"]
    (target,) = destination.values()
    return f"s3://{target['bucketName']}/{target['objectKey']}"


def test_environment_names_are_handler_settings(built):
    names = set(_function(built["template"])["Environment"]["Variables"])
    handler_names = {
        value for key, value in vars(handler_config).items() if key.isupper() and isinstance(value, str)
        and value.startswith("OKEANOS_")
    }
    assert names <= handler_names


def test_environment_has_every_required_setting(built):
    names = set(_function(built["template"])["Environment"]["Variables"])
    assert set(handler_config.REQUIRED) <= names


def test_environment_is_exactly_required_plus_given(built):
    names = set(_function(built["template"])["Environment"]["Variables"])
    expected = set(handler_config.REQUIRED) | {
        handler_config.OPENSEARCH_URL,
        handler_config.INDEX_PREFIX,
        handler_config.MAX_BACKFILL_STEPS,
    }
    assert names == expected


def test_environment_cluster_id(built):
    variables = _function(built["template"])["Environment"]["Variables"]
    assert variables[handler_config.CLUSTER_ID] == CLUSTER_ID


def test_step_arguments_point_at_uploaded_assets(built):
    variables = _function(built["template"])["Environment"]["Variables"]
    environ = {name: value if isinstance(value, str) else f"placeholder-{name}" for name, value in variables.items()}
    config = handler_config.HandlerConfig.from_environ(environ)
    assets = StepAssets(
        job_package_uri=config.job_package_uri,
        entry_script_uri=config.entry_script_uri,
        opensearch_url=config.opensearch_url,
        index_prefix=config.index_prefix,
        spark_conf=config.spark_conf,
    )
    message = TaskMessage(
        task="web-apache",
        job="http_status_hourly",
        input_uri="s3://logs/apache/",
        input_format="combined",
        window=TaskWindow(lastnhours=2),
    )
    args = spark_submit_args(message, assets)
    job_assets = built["assets"]
    py_files = args[args.index("--py-files") + 1]
    assert py_files == ",".join([_s3_uri(built, job_assets.py_files), _s3_uri(built, job_assets.dependencies)])
    assert args[args.index("--py-files") + 2] == _s3_uri(built, job_assets.entry_script)
    assert args[args.index("--opensearch-url") + 1] == OPENSEARCH_URL


def test_entry_script_asset_is_okeanos_main(built):
    assert _s3_uri(built, built["assets"].entry_script).endswith(".py")


def test_py_files_bundle_holds_both_packages(built):
    staged = _asset_dir(built, built["assets"].py_files)
    assert (staged / "okeanos_spark" / "registry.py").is_file()
    assert (staged / "okeanos" / "task.py").is_file()


def test_py_files_bundle_leaves_out_cli(built):
    staged = _asset_dir(built, built["assets"].py_files)
    assert not (staged / "okeanos" / "cli").exists()


def test_dependencies_bundle_is_pure_python(built):
    staged = _asset_dir(built, built["assets"].dependencies)
    compiled = [path.name for path in staged.rglob("*") if path.suffix in (".so", ".pyd")]
    assert compiled == []


def test_dependencies_bundle_has_client_packages(built):
    staged = _asset_dir(built, built["assets"].dependencies)
    for package in ("opensearchpy", "requests_aws4auth", "requests", "urllib3", "certifi"):
        assert (staged / package / "__init__.py").is_file(), package


def test_lambda_bundle_imports_handler_alone(built):
    bucket_key = _function(built["template"])["Code"]["S3Key"]
    asset_hash = bucket_key.split(".")[0]
    staged = built["outdir"] / f"asset.{asset_hash}"
    site_packages = sysconfig.get_paths()["purelib"]
    # -S skips site processing, so the editable install of this repository
    # is invisible and every okeanos module must come from the bundle.
    script = (
        "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        "import okeanos_handler.app; import okeanos_spark.registry as r;"
        "print(json.dumps([r.job_names(), okeanos_handler.app.__file__]))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script, str(staged), site_packages],
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    names, handler_file = json.loads(result.stdout.strip().splitlines()[-1])
    assert names == job_names()
    assert Path(handler_file).is_relative_to(staged)


def test_lambda_bundle_leaves_out_cli(built):
    bucket_key = _function(built["template"])["Code"]["S3Key"]
    staged = built["outdir"] / f"asset.{bucket_key.split('.')[0]}"
    assert not (staged / "okeanos" / "cli").exists()


def test_function_runtime_tracing_concurrency(built):
    function = _function(built["template"])
    assert function["Runtime"] == "python3.12"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["ReservedConcurrentExecutions"] == 5


def test_function_uses_powertools_layer(built):
    layers = _function(built["template"])["Layers"]
    assert layers == [
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:"
        f"{POWERTOOLS_LAYER_VERSION}"
    ]


def test_function_log_group_retention(built):
    built["template"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_subscription_failures_go_to_dead_letter_queue(built):
    subscription = find_one(built["template"], "AWS::SNS::Subscription", lambda p: p["Protocol"] == "lambda")
    target = subscription["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert target.startswith("StepSubmitterDeadLetterQueue")


def test_async_failures_go_to_dead_letter_queue(built):
    config = find_one(built["template"], "AWS::Lambda::EventInvokeConfig", lambda p: True)["Properties"]
    target = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert target.startswith("StepSubmitterDeadLetterQueue")


def test_delay_queue_redrives_to_dead_letter_queue(built):
    queue = find_one(built["template"], "AWS::SQS::Queue", lambda p: "RedrivePolicy" in p)["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5


def test_queues_encrypted(built):
    queues = resources(built["template"], "AWS::SQS::Queue").values()
    assert [q["Properties"].get("SqsManagedSseEnabled") for q in queues] == [True, True]


def test_queues_deny_requests_without_tls(built):
    denies = [
        s for logical_id, s in policy_statements(built["template"])
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        and "Queue" in logical_id
    ]
    assert len(denies) == 2


def test_rule_matches_cluster_step_changes(built):
    built["template"].has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.emr"],
                "detail-type": ["EMR Step Status Change"],
                "detail": {"clusterId": [CLUSTER_ID]},
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value()})],
        },
    )


def test_conflicts_reported_together(built):
    stack = built["stack"]
    existing = lambda_.Function.from_function_arn(
        stack, "Existing", "arn:aws:lambda:eu-west-1:111111111111:function:existing"
    )
    with pytest.raises(OkeanosPropsError) as raised:
        StepSubmitter(
            stack,
            "Bad",
            topic=built["submitter"].function and TaskTopic(stack, "OtherTopic"),
            cluster=SparkCluster(stack, "OtherCluster", existing_cluster_id=CLUSTER_ID),
            job_assets=built["assets"],
            state_table=dynamodb.Table.from_table_name(stack, "OtherTable", "t"),
            function=existing,
            function_props={"environment": {"X": "1"}},
            handler_settings={"OKEANOS_CLUSTER_ID": "j-X", handler_config.MAX_REQUEUES: 7},
        )
    assert raised.value.problems == [
        "function and function_props are both set; pass an existing resource in function or props for a new "
        "one in function_props, not both",
        "handler_settings['OKEANOS_CLUSTER_ID'] is not a handler setting the caller may set; allowed: "
        + ", ".join(
            [
                "OKEANOS_MAX_CONSECUTIVE_FAILURES",
                "OKEANOS_RETRY_BASE_SECONDS",
                "OKEANOS_RETRY_MAX_SECONDS",
                "OKEANOS_REQUEUE_DELAY_SECONDS",
                "OKEANOS_MAX_REQUEUES",
                "OKEANOS_CLAIM_LEASE_SECONDS",
                "OKEANOS_MAX_ACTIVE_STEPS",
                "OKEANOS_MAX_BACKFILL_STEPS",
                "OKEANOS_SPARK_CONF",
            ]
        ),
        "handler_settings['OKEANOS_MAX_REQUEUES'] is 7; environment values must be strings",
        "function_props['environment'] cannot be overridden: the construct sets exactly the variables the "
        "handler reads; use handler_settings",
    ]


def test_existing_function_wired_not_created():
    app = App()
    stack = Stack(app, "ExistingFunction")
    existing = lambda_.Function.from_function_attributes(
        stack,
        "Existing",
        function_arn="arn:aws:lambda:eu-west-1:111111111111:function:existing",
        role=iam.Role.from_role_arn(stack, "ExistingRole", "arn:aws:iam::111111111111:role/existing"),
        same_environment=True,
    )
    submitter = StepSubmitter(
        stack,
        "StepSubmitter",
        topic=TaskTopic(stack, "Topic"),
        cluster=SparkCluster(stack, "Cluster", existing_cluster_id=CLUSTER_ID),
        job_assets=JobAssets(stack, "JobAssets"),
        state_table=dynamodb.Table.from_table_name(stack, "Table", "t"),
        function=existing,
    )
    template = Template.from_stack(stack)
    assert resources(template, "AWS::Lambda::Function") == {}
    assert submitter.role is None
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "lambda", "Endpoint": "arn:aws:lambda:eu-west-1:111111111111:function:existing"},
    )


def test_job_assets_missing_entry_script(tmp_path):
    (tmp_path / "okeanos_spark").mkdir()
    app = App()
    stack = Stack(app, "Assets")
    with pytest.raises(OkeanosPropsError) as raised:
        JobAssets(stack, "JobAssets", spark_dir=tmp_path)
    assert raised.value.problems == [
        f"spark_dir: {tmp_path / 'okeanos_main.py'} does not exist; the job's entry script must be there",
        f"spark_dir: {tmp_path / 'okeanos_spark'} is not a Python package",
    ]
