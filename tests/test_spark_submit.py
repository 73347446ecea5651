"""The spark-submit entry point, run as a real ``spark-submit`` subprocess with a task argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from okeanos.task import TaskMessage, TaskWindow
from okeanos.views import query_view
from okeanos.windows import Window
from tests import web_reference as ref

pytestmark = [pytest.mark.spark, pytest.mark.opensearch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


def test_spark_submit_task_writes_view(opensearch_client, opensearch_url) -> None:
    prefix = "t" + uuid.uuid4().hex[:12]
    start, end = ref.hours("2015-05-17T10:00:00Z", 6)
    task = TaskMessage(
        task="web-apache",
        job="http_status_hourly",
        input_uri=str(ref.APACHE_LOG.resolve()),
        input_format="combined",
        window=TaskWindow.fixed(Window(start, end)),
    )
    environment = dict(os.environ)
    environment["PYSPARK_PYTHON"] = sys.executable
    environment["SPARK_LOCAL_IP"] = "127.0.0.1"
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "spark")])
    command = [
        str(SPARK_SUBMIT),
        "--master", "local[1]",
        "--driver-memory", "512m",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        str(ROOT / "spark" / "okeanos_main.py"),
        "--task", task.to_argument(),
        "--opensearch-url", opensearch_url,
        "--index-prefix", prefix,
    ]
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    # spark-submit's PythonRunner merges the driver's stderr into its stdout.
    output = completed.stdout + completed.stderr
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert records
    for record in records:
        assert set(record) >= {"level", "timestamp", "message", "job", "task", "run_id"}
    assert records[-1]["task"] == "web-apache"
    assert records[-1]["message"].startswith("run succeeded")
    expected = ref.status_hourly(ref.in_window(ref.read_combined(ref.APACHE_LOG), start, end), "web-apache")
    assert query_view(opensearch_client, "http_status_hourly", prefix=prefix) == expected


def run_driver(task_argument: str) -> subprocess.CompletedProcess:
    """Run okeanos_main.py with plain Python, for arguments rejected before Spark starts."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "spark")])
    return subprocess.run(
        [sys.executable, str(ROOT / "spark" / "okeanos_main.py"), "--task", task_argument],
        env=environment, capture_output=True, text=True, timeout=120,
    )


def test_spark_submit_invalid_task_exits_2() -> None:
    completed = run_driver("not base64 json")
    record = json.loads(completed.stderr.splitlines()[-1])
    assert completed.returncode == 2
    assert record["level"] == "ERROR"
    assert "argument" in record["message"]


def test_spark_submit_wrong_format_exits_2() -> None:
    task = TaskMessage(
        task="web-apache",
        job="http_status_hourly",
        input_uri="/logs/events",
        input_format="events",
        window=TaskWindow(lastnhours=2),
    )
    completed = run_driver(task.to_argument())
    record = json.loads(completed.stderr.splitlines()[-1])
    assert completed.returncode == 2
    assert "input.format: 'events' is not a format of job http_status_hourly" in record["message"]
