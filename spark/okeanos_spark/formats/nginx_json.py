"""The ``nginx-json`` format: Nginx access logs written as one JSON object per line.

The fields, as an Nginx ``log_format ... escape=json`` of this shape writes them::

    {"time": "17/May/2015:08:05:32 +0000", "remote_ip": "10.0.6.218",
     "remote_user": "-", "request": "GET /downloads/product_1 HTTP/1.1",
     "response": 304, "bytes": 0, "referrer": "-", "agent": "Debian APT-HTTP/1.3"}

Mapping into the web-request schema:

- ``time`` to ``ts``, converted to UTC by its offset;
- ``remote_ip`` to ``client``;
- ``request`` split into ``method``, ``target``, ``path`` and ``protocol``;
- ``response`` to ``http_status``, a JSON number or string kept as text.
  It must be three digits (or ``-``), so ``200.0`` is rejected as
  ``bad_status``: Nginx writes ``$status`` as an integer, and a float there
  means the line was not written by Nginx's ``log_format``;
- ``bytes``, a number, or ``"-"`` for 0;
- ``referrer`` as is, and ``agent`` to ``user_agent``.

Other keys are ignored. Every field is read as a string first (Spark writes a
JSON number into a string field as its text), so a wrongly typed value
rejects the line with its own reason instead of nulling the whole record.

Reasons for rejecting a line: ``bad_json`` (not a JSON object),
``missing_field`` (``time``, ``remote_ip``, ``request``, ``response`` or
``bytes`` absent or null), ``bad_timestamp``, ``bad_status``, ``bad_bytes``.
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import (
    BAD_BYTES,
    BAD_JSON,
    BAD_STATUS,
    BAD_TIMESTAMP,
    MISSING_FIELD,
    register_format,
)
from okeanos_spark.formats import json_lines, web
from okeanos_spark.formats.base import InputFormat, first_reason
from okeanos_spark.registry import WEB_REQUEST

_KEYS = ("time", "remote_ip", "request", "response", "bytes", "referrer", "agent")
_REQUIRED = ("time", "remote_ip", "request", "response", "bytes")
_TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"


class NginxJsonFormat(InputFormat):
    """Nginx access log as JSON lines."""

    name = "nginx-json"
    schema = WEB_REQUEST
    description = "Nginx access log as JSON lines (time, remote_ip, request, response, bytes, ...)"

    def parse(self, lines: Any) -> Any:
        """Extract the web-request fields; see the module docstring for the rules."""
        from pyspark.sql import functions as F

        decoded = json_lines.decode(lines, _KEYS)
        key = json_lines.key

        fields = decoded.select(
            "file",
            "line",
            json_lines.is_object().alias("is_object"),
            json_lines.all_present(_REQUIRED).alias("complete"),
            F.try_to_timestamp(key("time"), F.lit(_TIME_FORMAT)).alias("ts"),
            key("remote_ip").alias("client"),
            key("request").alias("request"),
            key("response").alias("http_status"),
            key("bytes").alias("bytes_text"),
            key("referrer").alias("referrer"),
            key("agent").alias("user_agent"),
        )
        fields = web.with_request_fields(fields, "request")
        reason = first_reason(
            [
                (F.col("is_object"), BAD_JSON),
                (F.col("complete"), MISSING_FIELD),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (web.is_status(F.col("http_status")), BAD_STATUS),
                (web.is_byte_count(F.col("bytes_text")), BAD_BYTES),
            ]
        )
        return fields.select(
            "*", web.byte_count(F.col("bytes_text")).alias("bytes"), reason.alias("reason")
        )




FORMAT = register_format(NginxJsonFormat())
