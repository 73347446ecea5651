"""Spark SQL expressions shared by the formats of the ``web_request`` schema.

Each helper takes and returns pyspark ``Column`` objects and runs in the JVM.
Importable without pyspark; the functions import it when called.
"""

from __future__ import annotations

from typing import Any

# HTTP status as text: three digits, or "-" when the server logged none.
STATUS_PATTERN = r"^([0-9]{3}|-)$"
# Response size: a whole number of up to 19 digits, or "-" for no body.
# is_byte_count also checks that a 19-digit number fits a long.
BYTES_PATTERN = r"^([0-9]{1,19}|-)$"
_MAX_LONG = str(2**63 - 1)


def with_request_fields(df: Any, request: str) -> Any:
    """Add ``method``, ``target``, ``path`` and ``protocol``, split from the request-line column ``request``.

    The method ends at the first space. When the text after the last space
    starts with ``HTTP/`` it is the protocol, and the target is what lies
    between. Otherwise (an HTTP/0.9 line such as ``GET /``) the target is
    everything after the method and the protocol is null. A request without
    a space (``-``, an empty string, bytes of a TLS handshake) gives four
    nulls. The path is the target up to the first ``?``, as logged.

    Only string functions, no regular expression, and each step in its own
    projection so that Spark computes every intermediate value once.
    """
    from pyspark.sql import functions as F

    line = F.col(request)
    pieces = df.select(
        "*",
        F.substring_index(line, " ", 1).alias("_method"),
        F.substring_index(line, " ", -1).alias("_last"),
    )
    method, last = F.col("_method"), F.col("_last")
    has_space = F.instr(line, " ") > 0
    # len(method) + 1 + len(last) == len(request) exactly when there is one space.
    has_protocol = (
        has_space & last.startswith("HTTP/") & (F.length(method) + F.length(last) + 2 <= F.length(line))
    )
    start = F.length(method) + 2
    between = F.length(line) - F.length(method) - F.length(last) - 2
    target = F.when(has_protocol, line.substr(start, between)).when(has_space, line.substr(start, F.length(line)))
    split = pieces.select(
        "*",
        F.when(has_space, method).alias("method"),
        target.alias("target"),
        F.when(has_protocol, last).alias("protocol"),
    )
    return split.withColumn("path", F.substring_index(F.col("target"), "?", 1)).drop("_method", "_last")


def is_status(value: Any) -> Any:
    """Return a boolean column: ``value`` is a three-digit status code or ``-``."""
    return value.rlike(STATUS_PATTERN)


def is_byte_count(value: Any) -> Any:
    """Return a boolean column: ``value`` is ``-`` or a whole number of bytes that fits a long."""
    from pyspark.sql import functions as F

    # Digit strings of the same length compare as numbers do.
    fits = (F.length(value) < len(_MAX_LONG)) | (value <= F.lit(_MAX_LONG))
    return value.rlike(BYTES_PATTERN) & fits


def byte_count(value: Any) -> Any:
    """Return ``value`` as a long, with ``-`` (no body sent) as 0.

    Only valid values (:func:`is_byte_count`) are cast, so the cast cannot
    fail under ANSI mode.
    """
    from pyspark.sql import functions as F

    return (
        F.when(value == "-", F.lit(0).cast("long"))
        .when(is_byte_count(value), value.cast("long"))
    )
