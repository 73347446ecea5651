"""``job_performance``: the impression, click and apply funnel per UTC hour and job posting."""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import format_names
from okeanos_spark.registry import APP_EVENT, AggregationJob, Metric, register
from okeanos_spark.transforms import require_columns


def transform(df: Any) -> Any:
    """Count impressions, clicks and applies per ``bucket`` and ``job_id``, with the CTR.

    Returns
    -------
    DataFrame
        ``bucket``, ``job_id``, ``impressions``, ``clicks``, ``applies``
        (long) and ``ctr`` (double): clicks / impressions, 0.0 when the hour
        has no impression of the job. Events are counted in the hour they
        happened, so a click in the hour after its impression can make
        ``ctr`` exceed 1.
    """
    from pyspark.sql import functions as F

    require_columns(df, ("bucket", "event_type", "job_id"), JOB.name)

    def count_of(event_type: str) -> Any:
        return F.sum(F.when(F.col("event_type") == event_type, 1).otherwise(0)).cast("long")

    counts = df.groupBy("bucket", "job_id").agg(
        count_of("impression").alias("impressions"),
        count_of("click").alias("clicks"),
        count_of("apply").alias("applies"),
    )
    ctr = (
        F.when(F.col("impressions") > 0, F.col("clicks") / F.col("impressions"))
        .otherwise(F.lit(0.0))
        .cast("double")
    )
    return counts.withColumn("ctr", ctr)


JOB = register(
    AggregationJob(
        name="job_performance",
        description=(
            "Impressions, clicks, applies and CTR (clicks / impressions, 0.0 when there "
            "are no impressions) per UTC hour and job posting"
        ),
        schema=APP_EVENT,
        formats=tuple(format_names(APP_EVENT)),
        granularity="hour",
        dimensions=("job_id",),
        metrics=(
            Metric("impressions", "long", "number of impression events"),
            Metric("clicks", "long", "number of click events"),
            Metric("applies", "long", "number of apply events"),
            Metric("ctr", "double", "clicks / impressions; 0.0 when impressions is 0"),
        ),
        transform=transform,
    )
)
