"""``clicks_by_day``: clicks per UTC day and job posting."""

from __future__ import annotations

from typing import Any

from okeanos_spark.registry import APP_EVENT, AggregationJob, Metric, register
from okeanos_spark.transforms import require_columns


def transform(df: Any) -> Any:
    """Count ``click`` events per ``bucket`` and ``job_id``.

    Returns
    -------
    DataFrame
        ``bucket``, ``job_id``, ``clicks`` (long). Jobs without a click that
        day have no row.
    """
    from pyspark.sql import functions as F

    require_columns(df, ("bucket", "event_type", "job_id"), JOB.name)
    return (
        df.filter(F.col("event_type") == "click")
        .groupBy("bucket", "job_id")
        .agg(F.count(F.lit(1)).alias("clicks"))
    )


JOB = register(
    AggregationJob(
        name="clicks_by_day",
        description="Clicks per UTC day and job posting",
        schema=APP_EVENT,
        formats=("events",),
        granularity="day",
        dimensions=("job_id",),
        metrics=(Metric("clicks", "long", "number of click events"),),
        transform=transform,
    )
)
