"""The ``cloudfront`` format: Amazon CloudFront standard (legacy) access logs.

Tab-separated, one request per line, after two header lines::

    #Version: 1.0
    #Fields: date time x-edge-location sc-bytes c-ip cs-method ...

The ``#Fields`` line names the columns of the lines that follow it, so the
parser maps fields by name, never by a fixed position. Every line starting
with ``#`` is skipped (status ``skipped``), never counted as a request.
Mapping into the web-request schema:

- ``ts``: ``date`` and ``time``, which CloudFront writes in UTC;
- ``client``: ``c-ip``, and ``method``: ``cs-method``;
- ``path``: ``cs-uri-stem``, as logged (URL-encoded);
- ``target``: ``cs-uri-stem``, then ``?`` and ``cs-uri-query`` unless the
  query is ``-``;
- ``protocol``: ``cs-protocol-version``;
- ``http_status``: ``sc-status`` as text (``000`` when the viewer closed the
  connection first);
- ``bytes``: ``sc-bytes``, ``-`` as 0;
- ``referrer``: ``cs(Referer)`` as logged;
- ``user_agent``: ``cs(User-Agent)`` percent-decoded once. CloudFront
  URL-encodes the header (a space is ``%20``), while every other format logs
  it as sent, so decoding makes the values of one browser agree across
  formats. Paths stay encoded, because the other formats log them encoded too.

A field that the ``#Fields`` header does not name is null (older logs lack
``cs-protocol-version``, for one), and ``sc-bytes`` then counts as 0.

How lines find their header
---------------------------
Lines are read with ``spark.read.text``. Each line takes the last
``#Fields`` line above it in the same file, through a window function over
the file ordered by the split's start offset and the line's position in
the split. All of it is Spark SQL, so no Python runs per line. This was
chosen over the alternatives because:

- reading each file's header on the driver first costs one extra request
  per file and only sees a header at the top, while concatenated files
  repeat the header further down;
- ``mapPartitions`` over whole files would run Python per line, and Python
  workers cannot open ``s3://`` paths through Hadoop;
- reading each file as one record (``wholetext``) needs several copies of
  the file in an executor's memory. Measured on a shared 2-core machine, a
  60 MB file (150,000 lines) did not finish in 10 minutes with a 768 MB
  heap, because of garbage collection.

The cost: the window shuffles every line by file, and sorts each file's
lines, spilling to disk when they do not fit in memory. The same 60 MB file
parsed in 11 s (``local[2]``, warm JVM, 768 MB heap).

Reasons for rejecting a line: ``no_fields_header`` (no ``#Fields`` line
above it), ``missing_field`` (the header lacks one of date, time, c-ip,
cs-method, cs-uri-stem or sc-status), ``too_few_fields`` (fewer fields than
the header names, as in a truncated line, while extra trailing fields
are ignored), ``bad_timestamp``, ``bad_status``, ``bad_bytes``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from okeanos_spark.formats import (
    BAD_BYTES,
    BAD_STATUS,
    BAD_TIMESTAMP,
    MISSING_FIELD,
    register_format,
)
from okeanos_spark.formats import aws_common as aws
from okeanos_spark.formats import web
from okeanos_spark.formats.base import InputFormat, escape_glob, first_reason
from okeanos_spark.registry import WEB_REQUEST
from okeanos_spark.session import check_session

logger = logging.getLogger(__name__)

NO_FIELDS_HEADER = "no_fields_header"
TOO_FEW_FIELDS = "too_few_fields"

_HEADER = "#Fields:"
# Fields a request needs, and fields that may be absent from older logs.
_REQUIRED = ("date", "time", "c-ip", "cs-method", "cs-uri-stem", "sc-status")
_OPTIONAL = ("sc-bytes", "cs-uri-query", "cs(Referer)", "cs(User-Agent)", "cs-protocol-version")


class CloudFrontFormat(InputFormat):
    """Amazon CloudFront standard log files, mapped by their ``#Fields`` headers."""

    name = "cloudfront"
    schema = WEB_REQUEST
    description = "Amazon CloudFront standard log (tab-separated, #Fields header)"

    def read(self, spark: Any, files: Sequence[str], columns: Optional[Sequence[str]] = None) -> Any:
        """Read and parse ``files``, mapping each line by the ``#Fields`` header above it."""
        if not files:
            return self.empty(spark, columns)
        logger.debug("reading %d file(s) as %s", len(files), self.name)
        check_session(spark)
        return self.finish(self.parse(read_lines(spark, files)), columns)

    def parse_lines(self, lines: Any, columns: Optional[Sequence[str]] = None) -> Any:
        """Raise ValueError: a line is mapped by the ``#Fields`` line above it, so only whole files parse."""
        raise ValueError(
            "format cloudfront maps each line by the #Fields header above it in its file, "
            "so it cannot parse lines alone; use read() with the log files"
        )

    def parse(self, lines: Any) -> Any:
        """Extract the web-request fields of lines that carry their ``header``.

        ``lines`` has ``file``, ``line`` and ``header``, as :func:`read_lines`
        returns them. Lines starting with ``#`` are marked ``skip``.
        """
        from pyspark.sql import functions as F

        header = F.col("header")
        values = F.split(F.col("line"), "\t")

        def field(name: str) -> Any:
            position = F.array_position(header, name)
            return F.when(position > 0, F.try_element_at(values, position.cast("int")))

        extracted = lines.select(
            "file",
            "line",
            F.col("line").startswith("#").alias("skip"),
            header.isNotNull().alias("has_header"),
            F.forall(F.lit(list(_REQUIRED)), lambda name: F.array_contains(header, name)).alias(
                "has_required"
            ),
            (F.size(values) >= F.size(header)).alias("complete"),
            *(field(name).alias(name) for name in _REQUIRED + _OPTIONAL),
        )

        stem, query = F.col("cs-uri-stem"), F.col("cs-uri-query")
        bytes_text = F.coalesce(F.col("sc-bytes"), F.lit("-"))
        when_time = F.concat_ws(" ", F.col("date"), F.col("time"), F.lit("+0000"))
        fields = extracted.select(
            "file",
            "line",
            "skip",
            "has_header",
            "has_required",
            "complete",
            F.try_to_timestamp(when_time, F.lit("yyyy-MM-dd HH:mm:ss Z")).alias("ts"),
            F.col("c-ip").alias("client"),
            F.col("cs-method").alias("method"),
            F.when(F.coalesce(query, F.lit("-")) == "-", stem)
            .otherwise(F.concat(stem, F.lit("?"), query))
            .alias("target"),
            stem.alias("path"),
            F.col("cs-protocol-version").alias("protocol"),
            F.col("sc-status").alias("http_status"),
            bytes_text.alias("bytes_text"),
            F.col("cs(Referer)").alias("referrer"),
            aws.percent_decode(F.col("cs(User-Agent)")).alias("user_agent"),
        )
        reason = first_reason(
            [
                (F.col("has_header"), NO_FIELDS_HEADER),
                (F.col("has_required"), MISSING_FIELD),
                (F.col("complete"), TOO_FEW_FIELDS),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (web.is_status(F.col("http_status")), BAD_STATUS),
                (web.is_byte_count(F.col("bytes_text")), BAD_BYTES),
            ]
        )
        bytes_sent = web.byte_count(F.col("bytes_text"))
        return fields.select("*", bytes_sent.alias("bytes"), reason.alias("reason"))


def read_lines(spark: Any, files: Sequence[str]) -> Any:
    """Read ``files`` as lines, each with the field names of the last ``#Fields`` line above it.

    Returns
    -------
    DataFrame
        ``file``, ``line`` (a byte-order mark removed) and ``header`` (array
        of field names, null above the first ``#Fields`` line). One row per line.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    text = spark.read.text([escape_glob(name) for name in files])
    # NOTE: regexp_replace turns invalid UTF-8 into U+FFFD, so such a rejected
    # line no longer matches the file's bytes and its sample gets no line number.
    line = F.regexp_replace(F.col("value"), "^\ufeff", "")
    lines = text.select(
        F.col("_metadata.file_path").alias("file"),
        F.col("_metadata.file_block_start").alias("block_start"),
        # Increases with the line's position inside one split of a file,
        # because a task reads its split in order.
        F.monotonically_increasing_id().alias("position"),
        line.alias("line"),
    )
    names = F.when(
        F.col("line").startswith(_HEADER),
        F.split(F.trim(F.substring(F.col("line"), len(_HEADER) + 1, 1 << 30)), "\\s+"),
    )
    above = (
        Window.partitionBy("file")
        .orderBy("block_start", "position")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    header = F.last(names, ignorenulls=True).over(above)
    return lines.select("file", "line", header.alias("header"))


FORMAT = register_format(CloudFrontFormat())
