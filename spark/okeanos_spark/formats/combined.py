"""The ``combined`` format: Apache and Nginx access logs in the combined log format.

Each line is ``LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\"
\\"%{User-agent}i\\""``, for example::

    10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.0"

Also accepted:

- the common log format, which ends after ``%b``: referrer and user agent
  are null;
- extra fields after the user agent (Nginx formats often append some),
  which are ignored;
- quoted fields that contain ``\\"``, as Apache and Nginx escape a quote;
  the values keep the escapes as logged.

Timestamps are converted to UTC by the offset each line carries
(``-0700``, ``+0530``). The request line splits as
:func:`okeanos_spark.formats.web.request_fields` describes; a request of
``-`` still parses, with null method, target, path and protocol.

Reasons for rejecting a line: ``unparseable`` (the line has not the shape
above), ``bad_timestamp``, ``bad_status`` (not three digits or ``-``),
``bad_bytes`` (not a whole number or ``-``).
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import (
    BAD_BYTES,
    BAD_STATUS,
    BAD_TIMESTAMP,
    UNPARSEABLE,
    register_format,
)
from okeanos_spark.formats import web
from okeanos_spark.formats.base import InputFormat, first_reason
from okeanos_spark.registry import WEB_REQUEST

# A double-quoted field; a backslash escapes the next character. The
# unrolled loop with possessive quantifiers matches in one pass, without a
# backtracking frame per character.
_QUOTED = r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"'
# Groups: 1 host, 2 time, 3 request, 4 status, 5 bytes, 6 a quote when the
# referrer and agent are present, 7 referrer, 8 user agent. (?s) lets the
# trailing ".*" cross any line-separator character inside a line.
_LINE = (
    r"(?s)^(\S+) \S+ \S+ \[([^\]]*)\] " + _QUOTED + r" (\S+) (\S+)"
    r'(?: (")' + _QUOTED[1:] + " " + _QUOTED + r"(?: .*)?)?$"
)
# The line is rewritten to its fields joined by this character, then split:
# one regular-expression pass per line instead of one per field.
_SEPARATOR = "\u0001"
_FIELD_COUNT = 8
_TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"


class CombinedFormat(InputFormat):
    """Apache/Nginx combined (and common) access log lines."""

    name = "combined"
    schema = WEB_REQUEST
    description = "Apache/Nginx combined or common access log (%h %l %u %t \"%r\" %>s %b ...)"

    def parse(self, lines: Any) -> Any:
        """Extract the web-request fields; see the module docstring for the rules."""
        from pyspark.sql import functions as F

        replacement = "".join(f"{_SEPARATOR}${group}" for group in range(1, _FIELD_COUNT + 1))
        parts = F.split(F.regexp_replace(F.col("line"), _LINE, replacement), _SEPARATOR)
        split = lines.select("file", "line", parts.alias("parts"))

        def field(index: int) -> Any:
            # get() returns null past the end of the array, where [] raises
            # under ANSI mode: an unmatched line splits into one element.
            return F.get(F.col("parts"), index)

        # A line that does not match comes back unchanged, so it does not
        # split into exactly the separator-led fields.
        matched = (F.size(F.col("parts")) == _FIELD_COUNT + 1) & (field(0) == "")
        has_agent = field(6) == '"'
        fields = split.select(
            "file",
            "line",
            matched.alias("matched"),
            F.try_to_timestamp(field(2), F.lit(_TIME_FORMAT)).alias("ts"),
            field(1).alias("client"),
            field(3).alias("request"),
            field(4).alias("http_status"),
            field(5).alias("bytes_text"),
            F.when(has_agent, field(7)).alias("referrer"),
            F.when(has_agent, field(8)).alias("user_agent"),
        )
        fields = web.with_request_fields(fields, "request")
        reason = first_reason(
            [
                (F.col("matched"), UNPARSEABLE),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (web.is_status(F.col("http_status")), BAD_STATUS),
                (web.is_byte_count(F.col("bytes_text")), BAD_BYTES),
            ]
        )
        return fields.select(
            "*", web.byte_count(F.col("bytes_text")).alias("bytes"), reason.alias("reason")
        )


FORMAT = register_format(CombinedFormat())
