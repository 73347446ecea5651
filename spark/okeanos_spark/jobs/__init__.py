"""Aggregation jobs. Importing this package registers every job listed here."""

from okeanos_spark.jobs import (  # noqa: F401  (each module registers its job)
    clicks_by_day,
    http_status_hourly,
    job_performance,
    top_paths_daily,
)
