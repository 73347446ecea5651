"""CloudWatch metrics that a Spark step publishes after a successful run.

``FreshnessSeconds`` (namespace ``okeanos``, dimension ``Task``) is the time
from the end of the window a run wrote to now: the lag of the task's view.
The constructs alarm on it per task. A step of a continuous task publishes
it only when ``OKEANOS_CLOUDWATCH_NAMESPACE`` is set, as the constructs do
for EMR steps. Local runs and backfill chunks publish nothing.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any, Optional

from okeanos.windows import utc_now

logger = logging.getLogger(__name__)

NAMESPACE_ENV = "OKEANOS_CLOUDWATCH_NAMESPACE"
FRESHNESS_METRIC = "FreshnessSeconds"


def publish_freshness(
    task: str,
    window_end: datetime,
    *,
    namespace: Optional[str] = None,
    now: Optional[datetime] = None,
    client: Any = None,
) -> Optional[float]:
    """Publish the task's freshness, and return it in seconds (``None`` when disabled).

    A failure to publish is logged and not raised: the view is already
    written, and the freshness alarm treats a missing datapoint as stale.
    """
    namespace = namespace or os.environ.get(NAMESPACE_ENV)
    if not namespace:
        return None
    seconds = max(0.0, ((now or utc_now()) - window_end).total_seconds())
    try:
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        client.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": FRESHNESS_METRIC,
                    "Dimensions": [{"Name": "Task", "Value": task}],
                    "Value": seconds,
                    "Unit": "Seconds",
                }
            ],
        )
    except Exception as exc:  # noqa: BLE001 (any AWS or network failure)
        logger.warning("could not publish %s for task %s to %s: %s", FRESHNESS_METRIC, task, namespace, exc)
        return seconds
    logger.info("published %s=%.0f for task %s", FRESHNESS_METRIC, seconds, task)
    return seconds
