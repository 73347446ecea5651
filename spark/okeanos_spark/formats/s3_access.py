"""The ``s3-access`` format: Amazon S3 server access logs.

One request per line, space-separated. The S3 user guide ("Amazon S3 server
access log format") lists the fields in order::

    bucket_owner bucket [time] remote_ip requester request_id operation key
    "request_uri" http_status error_code bytes_sent object_size total_time
    turn_around_time "referer" "user_agent" version_id host_id ...

Any field may be ``-``. AWS appends new fields at the end (signature
version, cipher suite, TLS version, access point ARN, ...), so the parser
reads the first 17 and ignores whatever follows. Mapping into the
web-request schema:

- ``ts``: ``time`` (``[06/Feb/2019:00:00:38 +0000]``), converted to UTC by
  its offset;
- ``client``: ``remote_ip``;
- ``method``, ``target``, ``path``, ``protocol``: from ``request_uri``
  (``"GET /bucket/key?x HTTP/1.1"``), split as
  :func:`okeanos_spark.formats.web.with_request_fields` describes; the operation
  (``REST.GET.VERSIONING``) is not the method. A ``request_uri`` of ``-``
  gives four nulls;
- ``http_status``: as text, ``-`` kept;
- ``bytes``: ``bytes_sent``, with ``-`` (nothing sent) as 0;
- ``referrer``, ``user_agent``: as logged, ``-`` kept.

Reasons for rejecting a line: ``unparseable`` (fewer than 17 fields, or
unbalanced quotes), ``bad_timestamp``, ``bad_status``, ``bad_bytes``.
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import BAD_BYTES, BAD_STATUS, BAD_TIMESTAMP, UNPARSEABLE, register_format
from okeanos_spark.formats import aws_common as aws
from okeanos_spark.formats import web
from okeanos_spark.formats.base import InputFormat, first_reason
from okeanos_spark.registry import WEB_REQUEST

# A request_uri, referer or user_agent: quoted, or a bare "-".
_QUOTED_OR_DASH = "(?:" + aws.QUOTED + "|-)"
_LINE = (
    r"^(\S+) (\S+) \[([^\]]*)\] (\S+) (\S+) (\S+) (\S+) (\S+) "
    + _QUOTED_OR_DASH
    + r" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "
    + _QUOTED_OR_DASH
    + " "
    + _QUOTED_OR_DASH
    + r"(?: .*)?$"
)
_GROUPS = {
    "time": 3,
    "remote_ip": 4,
    "request_uri": 9,
    "http_status": 10,
    "bytes_sent": 12,
    "referer": 16,
    "user_agent": 17,
}
_TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"


class S3AccessFormat(InputFormat):
    """Amazon S3 server access log records, of any version."""

    name = "s3-access"
    schema = WEB_REQUEST
    description = "Amazon S3 server access log (bucket_owner bucket [time] remote_ip ...)"

    def parse(self, lines: Any) -> Any:
        """Extract the web-request fields, as the module docstring describes."""
        from pyspark.sql import functions as F

        extracted = aws.extract_fields(lines, _LINE, _GROUPS)

        def quoted_or_dash(name: str) -> Any:
            # A bare "-" leaves the quoted group empty, and both mean absent.
            return F.when(F.col(name) == "", F.lit("-")).otherwise(F.col(name))

        fields = extracted.select(
            "file",
            "line",
            "matched",
            F.try_to_timestamp(F.col("time"), F.lit(_TIME_FORMAT)).alias("ts"),
            F.col("remote_ip").alias("client"),
            "request_uri",
            "http_status",
            "bytes_sent",
            quoted_or_dash("referer").alias("referrer"),
            quoted_or_dash("user_agent").alias("user_agent"),
        )
        fields = web.with_request_fields(fields, "request_uri")
        reason = first_reason(
            [
                (F.col("matched"), UNPARSEABLE),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (web.is_status(F.col("http_status")), BAD_STATUS),
                (web.is_byte_count(F.col("bytes_sent")), BAD_BYTES),
            ]
        )
        bytes_sent = web.byte_count(F.col("bytes_sent"))
        return fields.select("*", bytes_sent.alias("bytes"), reason.alias("reason"))


FORMAT = register_format(S3AccessFormat())
