"""``http_status_hourly``: requests, bytes and distinct clients per UTC hour and HTTP status."""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import format_names
from okeanos_spark.registry import WEB_REQUEST, AggregationJob, Metric, register
from okeanos_spark.transforms import require_columns


def transform(df: Any) -> Any:
    """Aggregate web requests per ``bucket`` and HTTP status.

    Parameters
    ----------
    df
        Parsed ``web_request`` rows with a ``bucket`` column.

    Returns
    -------
    DataFrame
        ``bucket``, ``status`` (the parsed ``http_status`` column, as text),
        ``requests`` (long), ``bytes`` (long), ``clients`` (long, exact count
        of distinct ``client`` values).
    """
    from pyspark.sql import functions as F

    require_columns(df, ("bucket", "http_status", "bytes", "client"), JOB.name)
    # The view calls the dimension "status"; the parsed column is
    # "http_status" because "status" there is the line's parse outcome.
    return df.groupBy("bucket", F.col("http_status").alias("status")).agg(
        F.count(F.lit(1)).alias("requests"),
        F.coalesce(F.sum("bytes"), F.lit(0)).cast("long").alias("bytes"),
        # Exact, not approx_count_distinct: a view is compared with totals.
        F.countDistinct("client").cast("long").alias("clients"),
    )


JOB = register(
    AggregationJob(
        name="http_status_hourly",
        description=(
            "Requests, response bytes and exact distinct client IPs per UTC hour and HTTP status"
        ),
        schema=WEB_REQUEST,
        formats=tuple(format_names(WEB_REQUEST)),
        granularity="hour",
        dimensions=("status",),
        metrics=(
            Metric("requests", "long", "number of requests"),
            Metric("bytes", "long", "sum of response bytes ('-' counts as 0)"),
            Metric("clients", "long", "exact number of distinct client IP addresses"),
        ),
        transform=transform,
        columns=("client", "http_status", "bytes"),
    )
)
