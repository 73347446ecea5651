"""The common schemas that input formats parse into and jobs read.

Two schemas, named by the constants of :mod:`okeanos_spark.registry`:

- ``web_request`` (:data:`WEB_REQUEST_FIELDS`): one HTTP request from an
  access log, whatever server or service wrote it;
- ``app_event`` (:data:`APP_EVENT_FIELDS`): one job-board event
  (impression, click or apply) from an application's event stream.

The field tables are plain Python so the CLI and the Lambda handler can list
columns without pyspark; :func:`spark_schema` builds the explicit
``StructType`` and imports pyspark when called.
"""

from __future__ import annotations

from typing import Dict, Tuple

from okeanos_spark.registry import APP_EVENT, WEB_REQUEST

# (name, Spark SQL type, description), in column order.
FieldSpec = Tuple[str, str, str]

WEB_REQUEST_FIELDS: Tuple[FieldSpec, ...] = (
    ("ts", "timestamp", "when the request was logged, as a UTC instant"),
    ("client", "string", "client IP address (IPv4 or IPv6) as logged"),
    ("method", "string", "request method; null when the request line has none"),
    ("target", "string", "request target as logged (not URL-decoded); null when absent"),
    ("path", "string", "the target up to the first '?', as logged; null when absent"),
    ("protocol", "string", "protocol of the request line, such as HTTP/1.1; null when absent"),
    ("http_status", "string", "HTTP status as text; '-' and '000' are kept"),
    ("bytes", "long", "response bytes; a logged '-' counts as 0"),
    ("referrer", "string", "Referer header as logged; null when the format has none"),
    ("user_agent", "string", "User-Agent header as logged; null when the format has none"),
)

APP_EVENT_FIELDS: Tuple[FieldSpec, ...] = (
    ("ts", "timestamp", "when the event happened, as a UTC instant"),
    ("event_id", "string", "unique id of the event, when the producer sets one"),
    ("event_type", "string", "impression, click or apply"),
    ("job_id", "string", "the job posting the event is about"),
    ("user_id", "string", "the signed-in user; null for anonymous visitors"),
    ("session_id", "string", "the visit the event belongs to"),
    ("channel", "string", "where the posting was shown: search, recommendation, alert, ..."),
    ("position", "int", "1-based rank of the posting in the list shown; null when not listed"),
)

SCHEMA_FIELDS: Dict[str, Tuple[FieldSpec, ...]] = {
    WEB_REQUEST: WEB_REQUEST_FIELDS,
    APP_EVENT: APP_EVENT_FIELDS,
}

# Columns that InputFormat.read adds after the schema's columns.
RECORD_FIELDS: Tuple[FieldSpec, ...] = (
    ("file", "string", "URI of the file the line came from, percent-encoded as Spark reports it"),
    ("status", "string", "parsed, rejected or skipped"),
    ("reason", "string", "why the line was rejected; null otherwise"),
    ("line", "string", "the raw line, for sampling rejects"),
)


def field_specs(schema: str) -> Tuple[FieldSpec, ...]:
    """Return the field table of the common schema ``schema``.

    Raises
    ------
    KeyError
        If ``schema`` is not one of :data:`SCHEMA_FIELDS`.
    """
    if schema not in SCHEMA_FIELDS:
        raise KeyError(f"schema {schema!r} is not known; known schemas: {', '.join(SCHEMA_FIELDS)}")
    return SCHEMA_FIELDS[schema]


def column_names(schema: str) -> Tuple[str, ...]:
    """Return the column names of the common schema ``schema``, in order."""
    return tuple(name for name, _, _ in field_specs(schema))


def spark_schema(schema: str):
    """Build the ``StructType`` of the common schema ``schema``.

    Every field is nullable, because the columns are null on lines that did
    not parse. Each field's description is kept as its ``comment`` metadata.
    """
    return _struct(field_specs(schema))


def record_schema(schema: str):
    """Build the ``StructType`` of what ``InputFormat.read`` returns for ``schema``."""
    return _struct(field_specs(schema) + RECORD_FIELDS)


def web_request_schema():
    """Build the ``StructType`` of the ``web_request`` schema."""
    return spark_schema(WEB_REQUEST)


def app_event_schema():
    """Build the ``StructType`` of the ``app_event`` schema."""
    return spark_schema(APP_EVENT)


def _struct(specs: Tuple[FieldSpec, ...]):
    from pyspark.sql import types as T

    types = {
        "timestamp": T.TimestampType(),
        "string": T.StringType(),
        "long": T.LongType(),
        "int": T.IntegerType(),
    }
    return T.StructType(
        [T.StructField(name, types[kind], True, {"comment": text}) for name, kind, text in specs]
    )
