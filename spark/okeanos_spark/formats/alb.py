"""The ``alb`` format: AWS Application Load Balancer access logs.

One request per line, space-separated, with some fields in double quotes.
The ELB user guide ("Access logs for your Application Load Balancer") lists
the fields in order::

    type time elb client:port target:port request_processing_time
    target_processing_time response_processing_time elb_status_code
    target_status_code received_bytes sent_bytes "request" "user_agent"
    ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" ...

AWS appends new fields at the end (25 fields in 2018, more since), so the
parser reads the first 14 and ignores whatever follows. Mapping into the
web-request schema:

- ``ts``: ``time``, when the load balancer sent the response (ISO-8601, UTC);
- ``client``: ``client:port`` without the port (IPv4 or IPv6);
- ``method``, ``target``, ``protocol``: the parts of ``request``, split as
  :func:`okeanos_spark.formats.web.with_request_fields` describes; the target is
  a full URL such as ``https://host:443/path?x``;
- ``path``: that URL's path as logged, up to the first ``?``;
- ``http_status``: ``elb_status_code`` as text, ``-`` kept;
- ``bytes``: ``sent_bytes``;
- ``referrer``: null, because ALB does not log it;
- ``user_agent``: as logged, ``-`` kept.

Reasons for rejecting a line: ``unparseable`` (fewer than 14 fields, or
unbalanced quotes), ``bad_timestamp``, ``bad_status``, ``bad_bytes``.
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import BAD_BYTES, BAD_STATUS, BAD_TIMESTAMP, UNPARSEABLE, register_format
from okeanos_spark.formats import aws_common as aws
from okeanos_spark.formats import web
from okeanos_spark.formats.base import InputFormat, first_reason
from okeanos_spark.registry import WEB_REQUEST

# The 12 unquoted leading fields, then "request" and "user_agent", then
# anything (the fields AWS has appended over the years, and future ones).
_LINE = r"^" + r"(\S+) " * 12 + aws.QUOTED + " " + aws.QUOTED + r"(?: .*)?$"
_GROUPS = {
    "time": 2,
    "client_port": 4,
    "elb_status_code": 9,
    "sent_bytes": 12,
    "request": 13,
    "user_agent": 14,
}
# ISO-8601 in UTC as ALB writes it: 2018-07-02T22:23:00.186641Z.
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$"
_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]X"


class AlbFormat(InputFormat):
    """AWS Application Load Balancer access log entries, of any version."""

    name = "alb"
    schema = WEB_REQUEST
    description = "AWS Application Load Balancer access log (type time elb client:port ...)"

    def parse(self, lines: Any) -> Any:
        """Extract the web-request fields, as the module docstring describes."""
        from pyspark.sql import functions as F

        extracted = aws.extract_fields(lines, _LINE, _GROUPS)

        time_text = F.col("time")
        ts = F.try_to_timestamp(F.when(time_text.rlike(_TIME), time_text), F.lit(_TIME_FORMAT))
        fields = extracted.select(
            "file",
            "line",
            "matched",
            ts.alias("ts"),
            aws.client_address(F.col("client_port")).alias("client"),
            "request",
            F.col("elb_status_code").alias("http_status"),
            "sent_bytes",
            F.lit(None).cast("string").alias("referrer"),
            "user_agent",
        )
        # The target is an absolute URL, so the path starts after the authority.
        fields = web.with_request_fields(fields, "request").withColumn(
            "path", aws.url_path(F.col("target"))
        )
        reason = first_reason(
            [
                (F.col("matched"), UNPARSEABLE),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (web.is_status(F.col("http_status")), BAD_STATUS),
                (web.is_byte_count(F.col("sent_bytes")), BAD_BYTES),
            ]
        )
        bytes_sent = web.byte_count(F.col("sent_bytes"))
        return fields.select("*", bytes_sent.alias("bytes"), reason.alias("reason"))


FORMAT = register_format(AlbFormat())
