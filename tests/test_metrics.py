"""The freshness metric a continuous task's step publishes to CloudWatch (moto)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from okeanos_spark.metrics import FRESHNESS_METRIC, NAMESPACE_ENV, publish_freshness

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def cloudwatch(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("cloudwatch")


def test_freshness_published_with_task_dimension(cloudwatch):
    seconds = publish_freshness("web-apache", NOW - timedelta(minutes=5), namespace="okeanos", now=NOW,
                                client=cloudwatch)
    metrics = cloudwatch.list_metrics(Namespace="okeanos")["Metrics"]
    assert seconds == 300.0
    assert [metric["MetricName"] for metric in metrics] == [FRESHNESS_METRIC]
    assert metrics[0]["Dimensions"] == [{"Name": "Task", "Value": "web-apache"}]


def test_freshness_disabled_without_namespace(cloudwatch, monkeypatch):
    monkeypatch.delenv(NAMESPACE_ENV, raising=False)
    assert publish_freshness("web-apache", NOW, now=NOW, client=cloudwatch) is None
    assert cloudwatch.list_metrics(Namespace="okeanos")["Metrics"] == []


def test_freshness_failure_does_not_raise():
    class FailingClient:
        def put_metric_data(self, **kwargs):
            raise RuntimeError("endpoint unreachable")

    seconds = publish_freshness("web-apache", NOW - timedelta(seconds=10), namespace="okeanos", now=NOW,
                                client=FailingClient())
    assert seconds == 10.0
