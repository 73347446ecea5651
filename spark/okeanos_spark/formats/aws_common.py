"""Spark SQL expressions shared by the AWS log formats (``alb``, ``cloudfront``, ``s3-access``).

Each helper takes and returns pyspark ``Column`` objects and runs in the
JVM, so no Python runs per line. The helpers every web-request format needs
(request line, status, bytes) are in :mod:`okeanos_spark.formats.web`.

Importable without pyspark; the functions import it when called.
"""

from __future__ import annotations

from typing import Any, Dict

# A double-quoted field as AWS writes it. A backslash escapes the next
# character, so a quote written as \" does not end the field. The unrolled
# loop with possessive quantifiers keeps java.util.regex from recursing once
# per character, which overflows the stack on 1 MB fields.
QUOTED = r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"'

# scheme://authority at the start of an absolute URL (RFC 3986, section 3).
_SCHEME_AUTHORITY = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"


def client_address(value: Any) -> Any:
    """Drop the port from ``address:port``, for IPv4 and IPv6 alike.

    ``192.0.2.1:2817`` gives ``192.0.2.1``, and both ``2001:db8::1:443`` and
    ``[2001:db8::1]:443`` give ``2001:db8::1``. A value without a port, such
    as ``-``, is kept.
    """
    from pyspark.sql import functions as F

    bracketed = F.regexp_extract(value, r"^\[([^\]]*)\](?::\d+)?$", 1)
    # The digits after the last colon are the port, for IPv6 without
    # brackets too (ALB writes 2001:db8::1:443).
    with_port = F.regexp_extract(value, r"^(.*[^:]):\d+$", 1)
    return F.when(bracketed != "", bracketed).when(with_port != "", with_port).otherwise(value)


def url_path(target: Any) -> Any:
    """Return the path of a request target, as logged, up to the first ``?``.

    An absolute URL (``https://host:443/a/b?x``, as load balancers log it)
    loses its scheme and authority first. An empty path becomes ``/``, which
    scheme-based normalization (RFC 3986, section 6.2.3) treats as the same
    for http and https. A null target gives null.
    """
    from pyspark.sql import functions as F

    without_authority = F.regexp_replace(target, _SCHEME_AUTHORITY, "")
    path = F.substring_index(without_authority, "?", 1)
    return F.when(path == "", F.lit("/")).otherwise(path)


def percent_decode(value: Any) -> Any:
    """Decode %XX escapes once (RFC 3986 percent-encoding, UTF-8), keeping ``+`` as is.

    A value with a ``%`` that does not start a valid escape is kept as
    logged, because Spark's ``url_decode`` raises on it.
    """
    from pyspark.sql import functions as F

    invalid = value.rlike("%(?![0-9A-Fa-f]{2})")
    # url_decode decodes form encoding, where "+" is a space. In a header
    # such as "Googlebot/2.1; +http://..." the "+" is a plus sign.
    protected = F.regexp_replace(value, r"\+", "%2B")
    return F.when(invalid, value).otherwise(F.call_function("url_decode", protected))


def extract_fields(lines: Any, pattern: str, groups: Dict[str, int]) -> Any:
    """Select ``file``, ``line``, ``matched`` and one column per named group of ``pattern``.

    ``matched`` distinguishes a line that fits ``pattern`` from one that does not,
    because ``regexp_extract`` returns "" for both an empty group and a
    failed match.
    """
    from pyspark.sql import functions as F

    line = F.col("line")
    return lines.select(
        "file",
        "line",
        line.rlike(pattern).alias("matched"),
        *(F.regexp_extract(line, pattern, group).alias(name) for name, group in groups.items()),
    )
