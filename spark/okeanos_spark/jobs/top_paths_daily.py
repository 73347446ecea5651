"""``top_paths_daily``: requests and bytes per UTC day and request path.

The view contains every path of the day. "Top" is the order a query sorts
by (``requests`` descending).
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import format_names
from okeanos_spark.registry import WEB_REQUEST, AggregationJob, Metric, register
from okeanos_spark.transforms import require_columns


def transform(df: Any) -> Any:
    """Aggregate web requests per ``bucket`` and ``path``.

    Requests without a path (a request line of ``-`` or without a target)
    are left out, because a null dimension cannot be a view key.

    Returns
    -------
    DataFrame
        ``bucket``, ``path``, ``requests`` (long), ``bytes`` (long).
    """
    from pyspark.sql import functions as F

    require_columns(df, ("bucket", "path", "bytes"), JOB.name)
    return (
        df.filter(F.col("path").isNotNull())
        .groupBy("bucket", "path")
        .agg(
            F.count(F.lit(1)).alias("requests"),
            F.coalesce(F.sum("bytes"), F.lit(0)).cast("long").alias("bytes"),
        )
    )


JOB = register(
    AggregationJob(
        name="top_paths_daily",
        description=(
            "Requests and response bytes per UTC day and request path (as logged, "
            "without the query string); requests without a path are left out"
        ),
        schema=WEB_REQUEST,
        formats=tuple(format_names(WEB_REQUEST)),
        granularity="day",
        dimensions=("path",),
        metrics=(
            Metric("requests", "long", "number of requests"),
            Metric("bytes", "long", "sum of response bytes ('-' counts as 0)"),
        ),
        transform=transform,
    )
)
