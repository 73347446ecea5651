"""DataFrame steps shared by every job: keep the parsed rows, limit to a window, bucket.

A run applies them in this order before the job's own transform::

    parsed = parsed_rows(records)
    limited = limit_to(parsed, span)
    bucketed = add_bucket(limited, job.granularity)
    view = job.transform(bucketed)

Each step is a pure DataFrame-to-DataFrame function and works on UTC
instants (epoch seconds), so none of them depends on the session time zone.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from okeanos.exceptions import OkeanosError
from okeanos.windows import GRANULARITIES, Window, bucket_span
from okeanos_spark.schemas import RECORD_FIELDS

# Columns that InputFormat.read adds after a common schema's columns.
RECORD_COLUMNS = tuple(name for name, _, _ in RECORD_FIELDS)


class MissingColumnsError(OkeanosError, ValueError):
    """A DataFrame lacks columns that a step needs."""


def require_columns(df: Any, columns: Iterable[str], step: str) -> None:
    """Raise :class:`MissingColumnsError` naming the columns of ``columns`` that ``df`` lacks.

    ``step`` names the job or function that needs them, for the message.
    """
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise MissingColumnsError(
            f"{step} needs the column(s) {', '.join(missing)}; "
            f"the DataFrame has {', '.join(df.columns) or 'no columns'}"
        )


def parsed_rows(records: Any) -> Any:
    """Keep the lines that parsed, without the record columns (``file``, ``status``, ...)."""
    from pyspark.sql import functions as F

    require_columns(records, ("status",), "parsed_rows")
    parsed = records.filter(F.col("status") == "parsed")
    return parsed.drop(*[name for name in RECORD_COLUMNS if name in records.columns])


def limit_to(df: Any, window: Window, *, granularity: Optional[str] = None) -> Any:
    """Keep the rows whose ``ts`` falls in ``window`` (half-open, ``[start, end)``).

    Parameters
    ----------
    df
        Rows with a ``ts`` timestamp column.
    window
        The UTC window to keep.
    granularity
        ``hour`` or ``day`` to widen ``window`` first to the whole buckets it
        touches (:func:`okeanos.windows.bucket_span`). When omitted, the
        window is used as given, which suits a span that is already widened.
    """
    from pyspark.sql import functions as F

    require_columns(df, ("ts",), "limit_to")
    span = bucket_span(window, granularity) if granularity is not None else window
    start = F.timestamp_seconds(F.lit(int(span.start.timestamp())))
    end = F.timestamp_seconds(F.lit(int(span.end.timestamp())))
    # NOTE: whole-second bounds; a window with a fractional second is cut to
    # the second below.
    return df.filter((F.col("ts") >= start) & (F.col("ts") < end))


def add_bucket(df: Any, granularity: str) -> Any:
    """Add a ``bucket`` timestamp column: the start of the UTC ``hour`` or ``day`` of ``ts``.

    Computed from epoch seconds, so it equals ``date_trunc`` in a UTC session
    and does not depend on ``spark.sql.session.timeZone``.

    Raises
    ------
    ValueError
        If ``granularity`` is not ``hour`` or ``day``.
    """
    from pyspark.sql import functions as F

    require_columns(df, ("ts",), "add_bucket")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity {granularity!r} is not supported; use one of {sorted(GRANULARITIES)}")
    step = int(GRANULARITIES[granularity].total_seconds())
    seconds = F.col("ts").cast("long")
    return df.withColumn("bucket", F.timestamp_seconds(seconds - F.pmod(seconds, F.lit(step))))
