"""Decoding of JSON-lines formats, shared by ``nginx-json`` and ``events``.

Each line is read with ``from_json`` and an explicit schema in which every
key is a string. A value of an unexpected JSON type then still arrives as
text for the format's own checks, instead of turning the whole record null.
"""

from __future__ import annotations

from functools import reduce
from typing import Any, Sequence

# Column that from_json fills with the raw line when it is not a JSON object.
CORRUPT_COLUMN = "_corrupt_record"


def string_schema(keys: Sequence[str]) -> Any:
    """Build the schema ``from_json`` reads each line with: every key a string."""
    from pyspark.sql import types as T

    names = tuple(keys) + (CORRUPT_COLUMN,)
    return T.StructType([T.StructField(name, T.StringType(), True) for name in names])


def decode(lines: Any, keys: Sequence[str]) -> Any:
    """Return ``file``, ``line`` and ``json``, the line decoded with :func:`string_schema`."""
    from pyspark.sql import functions as F

    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}
    record = F.from_json(F.col("line"), string_schema(keys), options)
    return lines.select("file", "line", record.alias("json"))


def key(name: str) -> Any:
    """Return the column of one key of the decoded ``json`` struct."""
    from pyspark.sql import functions as F

    return F.col("json")[name]


def is_object() -> Any:
    """Return a column that is true when the line was a JSON object."""
    from pyspark.sql import functions as F

    return F.col("json").isNotNull() & key(CORRUPT_COLUMN).isNull()


def all_present(names: Sequence[str]) -> Any:
    """Return a column that is true when every key in ``names`` is present and not null."""
    return reduce(lambda left, right: left & right, [key(name).isNotNull() for name in names])
