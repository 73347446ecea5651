"""Unit tests of the handler's configuration, step names and step arguments."""

from __future__ import annotations

import pytest

from okeanos.exceptions import ConfigurationError
from okeanos.task import TaskWindow, from_argument, parse_task
from okeanos.windows import Window
from okeanos_handler import config as env
from okeanos_handler.config import HandlerConfig
from okeanos_handler.exceptions import StepArgumentsError
from okeanos_handler.steps import (
    MAX_STEP_STRING_CHARS,
    StepAssets,
    check_step_args,
    parse_step_name,
    spark_submit_args,
    state_key,
    step_name,
)
from tests.loop_support import JOBS, NOW, task_body

REQUIRED = {
    env.CLUSTER_ID: "j-ABC", env.TASK_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:t",
    env.DELAY_QUEUE_URL: "https://sqs/d", env.DEAD_LETTER_QUEUE_URL: "https://sqs/dl",
    env.STATE_TABLE: "okeanos-state", env.JOB_PACKAGE_URI: "s3://a/p.zip", env.ENTRY_SCRIPT_URI: "s3://a/m.py",
}
ASSETS = StepAssets("s3://okeanos-assets/okeanos-jobs.zip", "s3://okeanos-assets/okeanos_main.py")


def test_config_defaults():
    config = HandlerConfig.from_environ(REQUIRED)
    assert config.max_consecutive_failures == 5
    assert config.max_active_steps == 256
    assert config.spark_conf == ()


def test_config_missing_all_listed():
    with pytest.raises(ConfigurationError) as caught:
        HandlerConfig.from_environ({})
    message = str(caught.value)
    for name in env.REQUIRED:
        assert name in message


def test_config_bad_number_named():
    with pytest.raises(ConfigurationError, match="OKEANOS_MAX_CONSECUTIVE_FAILURES='zero'"):
        HandlerConfig.from_environ({**REQUIRED, env.MAX_CONSECUTIVE_FAILURES: "zero"})


def test_config_active_steps_above_emr_limit():
    with pytest.raises(ConfigurationError, match="at most 256"):
        HandlerConfig.from_environ({**REQUIRED, env.MAX_ACTIVE_STEPS: "300"})


def test_config_spark_conf_split():
    config = HandlerConfig.from_environ({**REQUIRED, env.SPARK_CONF: "spark.a=1, spark.b=2"})
    assert config.spark_conf == ("spark.a=1", "spark.b=2")


def test_step_name_roundtrip():
    message = parse_task(task_body(), jobs=JOBS)
    name = step_name(message, Window.last_n_hours(NOW, 2))
    parsed = parse_step_name(str(name))
    assert str(name) == "okeanos:web-apache:2015-05-18T10:00:30Z"
    assert parsed == name
    assert parsed.key == "web-apache"


def test_backfill_step_name_key():
    message = parse_task(task_body(window={"from": "2015-05-01T00:00:00Z", "to": "2015-05-02T00:00:00Z"}), jobs=JOBS)
    name = step_name(message, message.window.resolve())
    assert str(name) == "okeanos:web-apache:2015-05-01T00:00:00Z:backfill"
    assert parse_step_name(str(name)).key == state_key(message)


@pytest.mark.parametrize("name", ["CustomJAR", "okeanos:", "okeanos:Web:2015-05-01T00:00:00Z", "okeanos:web:yesterday", ""])
def test_foreign_step_names(name):
    assert parse_step_name(name) is None


def test_args_one_per_element():
    message = parse_task(task_body(), jobs=JOBS).with_window(TaskWindow.fixed(Window.last_n_hours(NOW, 2)))
    args = spark_submit_args(message, StepAssets(ASSETS.job_package_uri, ASSETS.entry_script_uri, spark_conf=("spark.a=1",)))
    assert all(arg and " " not in arg for arg in args)
    assert args[args.index("--conf", 6) + 1] == "spark.a=1"
    assert "--opensearch-url" not in args


def test_args_task_decodes_equal():
    message = parse_task(task_body(), jobs=JOBS).with_window(TaskWindow.fixed(Window.last_n_hours(NOW, 2)))
    args = spark_submit_args(message, ASSETS)
    assert from_argument(args[args.index("--task") + 1], jobs=JOBS) == message


def test_args_largest_message_fits():
    body = task_body(
        task="t" * 63, input={"uri": "s3://bucket-name/" + "p" * 1000, "format": "f" * 32},
        deployment={"cluster_id": "j-" + "A" * 32, "topic_arn": "arn:aws:sns:us-east-1:123456789012:" + "t" * 256,
                    "state_table": "s" * 255},
    )
    message = parse_task(body, jobs=JOBS).with_window(TaskWindow.fixed(Window.last_n_hours(NOW, 2)))
    args = spark_submit_args(message, ASSETS)
    assert sum(map(len, args)) < MAX_STEP_STRING_CHARS


def test_args_too_long_rejected():
    with pytest.raises(StepArgumentsError, match="10240"):
        check_step_args(["spark-submit", "x" * MAX_STEP_STRING_CHARS])


def test_args_empty_rejected():
    with pytest.raises(StepArgumentsError, match="argument 1 is empty"):
        check_step_args(["spark-submit", "", "x"])
