"""The base class of input formats and the steps every format shares.

:meth:`InputFormat.read` runs these stages:

1. read the files as text lines (``spark.read.text``), with the file's URI;
2. remove a UTF-8 byte-order mark from the start of each line;
3. :meth:`InputFormat.parse`, the one step a format implements: compute the
   schema's fields, a ``reason`` (null when the line is valid) and,
   optionally, a ``skip`` flag;
4. :meth:`InputFormat.finish`: reject blank lines as ``empty_line``, set
   ``status``, reject lines whose ``ts`` is outside the supported range as
   ``bad_timestamp``, null the fields of lines that did not parse, cast
   every field to the schema's type and order the columns.

Only Spark SQL functions run per line: no Python UDF, so no row leaves the
JVM.

Invalid UTF-8: ``spark.read.text`` keeps a line's bytes as they are, and
the string functions decode an invalid byte sequence as U+FFFD (the
replacement character). A line with invalid bytes is therefore parsed like
any other, with U+FFFD in the fields that contained them.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Optional, Sequence, Tuple

from okeanos.windows import EARLIEST, LATEST, format_utc
from okeanos_spark import schemas
from okeanos_spark.formats import BAD_TIMESTAMP, EMPTY_LINE, PARSED, REJECTED, SKIPPED
from okeanos_spark.session import check_session
from okeanos_spark.transforms import RECORD_COLUMNS, require_columns

logger = logging.getLogger(__name__)

_BOM = "\ufeff"
# Spark expands glob patterns in the paths it reads (Hadoop's globStatus), so
# a file named access[1].log would not be found unless these are escaped.
_GLOB_CHARACTERS = re.compile(r"([\\\[\]{}*?])")

# The range of ``ts`` that a parsed line may have, the one okeanos.windows
# accepts for every instant: a line outside it is rejected as
# ``bad_timestamp``. Without it, one line dated 9999-12-31 or 0001-01-01 made
# a whole run fail, because Python's datetime overflows past year 9999 and
# year 1 is written "1-01-01", which OpenSearch rejects as a date.
MIN_TIMESTAMP = format_utc(EARLIEST)
MAX_TIMESTAMP = format_utc(LATEST)


class InputFormat:
    """A log format that parses text lines into a common schema.

    Subclasses set :attr:`name`, :attr:`schema` and :attr:`description` and
    implement :meth:`parse`.
    """

    #: Name used by task messages and the CLI (lower case, digits and ``-``).
    name: str = ""
    #: The common schema the format parses into: ``web_request`` or ``app_event``.
    schema: str = ""
    #: One line for ``okeanos jobs`` and the docs.
    description: str = ""

    def read(self, spark: Any, files: Sequence[str], columns: Optional[Sequence[str]] = None) -> Any:
        """Read and parse ``files`` (plain or gzip text) into one DataFrame.

        Parameters
        ----------
        spark
            The SparkSession. The settings okeanos requires (UTC session time
            zone, the CORRECTED time parser) are applied to it, see
            :func:`okeanos_spark.session.check_session`.
        files
            Paths or URIs, as :func:`okeanos_spark.inputs.list_files` returns them.
        columns
            The schema's columns to return; every column when omitted. ``ts``
            is always returned. Spark then leaves out the work of the other
            columns: for ``http_status_hourly`` over combined lines, the
            request line is not split.

        Returns
        -------
        DataFrame
            The schema's columns (or ``columns``), then ``file``, ``status``,
            ``reason`` and ``line``; one row per line. No files give an
            empty DataFrame.

        Raises
        ------
        ValueError
            If ``columns`` names a column that the schema does not have, or is one string.
        """
        from pyspark.sql import functions as F

        if not files:
            return self.empty(spark, columns)
        logger.debug("reading %d file(s) as %s", len(files), self.name)
        text = spark.read.text([escape_glob(name) for name in files])
        lines = text.select(
            F.col("_metadata.file_path").alias("file"), F.col("value").alias("line")
        )
        return self.parse_lines(lines, columns)

    def parse_lines(self, lines: Any, columns: Optional[Sequence[str]] = None) -> Any:
        """Parse a DataFrame of ``file`` and ``line`` columns; :meth:`read` without the files."""
        from pyspark.sql import functions as F

        require_columns(lines, ("file", "line"), f"format {self.name}")
        check_session(lines.sparkSession)
        line = F.col("line")
        stripped = F.when(line.startswith(_BOM), F.expr("substring(line, 2)")).otherwise(line)
        return self.finish(self.parse(lines.select("file", stripped.alias("line"))), columns)

    def empty(self, spark: Any, columns: Optional[Sequence[str]] = None) -> Any:
        """Return an empty DataFrame with the columns :meth:`read` returns."""
        names = self.selected_columns(columns) + RECORD_COLUMNS
        return spark.createDataFrame([], schemas.record_schema(self.schema)).select(*names)

    def selected_columns(self, columns: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
        """Return the schema's columns that ``columns`` names, with ``ts``, in schema order.

        Raises
        ------
        ValueError
            If ``columns`` names a column that the schema does not have, is
            one string, or contains something other than a string.
        """
        names = schemas.column_names(self.schema)
        if columns is None:
            return names
        if isinstance(columns, str):
            raise ValueError(f"columns: {columns!r} is one string; pass a sequence of column names, such as ({columns!r},)")
        # A generator can be read once only, and it is read twice below.
        columns = tuple(columns)
        for column in columns:
            if not isinstance(column, str):
                raise ValueError(f"columns: {column!r} is not a column name; pass strings such as 'client'")
        unknown = sorted(set(columns) - set(names))
        if unknown:
            raise ValueError(
                f"format {self.name} has no column(s) {', '.join(unknown)} in schema "
                f"{self.schema}; its columns are {', '.join(names)}"
            )
        selected = set(columns) | {"ts"}
        return tuple(name for name in names if name in selected)

    def parse(self, lines: Any) -> Any:
        """Compute the schema's fields of each line.

        Parameters
        ----------
        lines
            A DataFrame with ``file`` and ``line`` (a byte-order mark removed).

        Returns
        -------
        DataFrame
            ``file``, ``line``, every column of the schema (any type that
            casts to the schema's type, values of invalid lines are ignored),
            ``reason`` (string, null for a valid line) and optionally ``skip``
            (boolean, true for lines the format skips on purpose).
        """
        raise NotImplementedError(f"format {self.name!r} does not implement parse")

    def finish(self, parsed: Any, columns: Optional[Sequence[str]] = None) -> Any:
        """Turn :meth:`parse` output into the record layout that :meth:`read` returns.

        ``columns`` is :meth:`read`'s: the schema's columns to keep.
        """
        from pyspark.sql import functions as F

        require_columns(
            parsed, ("file", "line", "reason") + schemas.column_names(self.schema), f"format {self.name}"
        )
        names = self.selected_columns(columns)

        skip = F.coalesce(F.col("skip"), F.lit(False)) if "skip" in parsed.columns else F.lit(False)
        # Only a line that failed to parse or is skipped can be blank, so the
        # pattern runs on those lines only.
        blank = (F.col("reason").isNotNull() | skip) & F.col("line").rlike(r"^\s*$")
        reason = F.when(blank, F.lit(EMPTY_LINE)).when(skip, F.lit(None)).otherwise(F.col("reason"))
        staged = parsed.select(
            *names,
            "file",
            "line",
            reason.cast("string").alias("_reason"),
            (~blank & skip).alias("_skip"),
        )
        # Spark pushes a filter on the result (status = 'parsed', a window on
        # ts) down through projections by inlining their expressions, which
        # would run the parser again for every reference. A generator's
        # output cannot be inlined, so the filter stops here. Columns left
        # out by ``columns`` are pruned before this point, so their
        # expressions never run.
        staged = staged.select(F.inline(F.array(F.struct(*staged.columns))))

        # The bounds check reads the generator's output, so the parser runs once.
        unchecked = F.col("_reason").isNull() & ~F.col("_skip")
        ts = F.when(unchecked, F.col("ts")).cast("timestamp")
        outside = (ts < F.lit(MIN_TIMESTAMP).cast("timestamp")) | (
            ts >= F.lit(MAX_TIMESTAMP).cast("timestamp")
        )
        staged = staged.withColumn(
            "_reason", F.when(F.coalesce(outside, F.lit(False)), F.lit(BAD_TIMESTAMP)).otherwise(F.col("_reason"))
        )

        valid = F.col("_reason").isNull() & ~F.col("_skip")
        status = (
            F.when(F.col("_reason").isNotNull(), F.lit(REJECTED))
            .when(F.col("_skip"), F.lit(SKIPPED))
            .otherwise(F.lit(PARSED))
        )
        fields = [
            F.when(valid, F.col(name)).cast(kind).alias(name)
            for name, kind, _ in schemas.field_specs(self.schema)
            if name in names
        ]
        return staged.select(
            *fields,
            F.col("file"),
            status.alias("status"),
            F.col("_reason").alias("reason"),
            F.col("line"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} -> {self.schema}>"


def escape_glob(path: str) -> str:
    """Escape the glob characters of ``path`` (``[ ] { } * ? \\``) so Spark reads it literally."""
    return _GLOB_CHARACTERS.sub(r"\\\1", path)


def first_reason(checks: Sequence[Tuple[Any, str]]) -> Any:
    """Return the reason of the first failed check, or null when every check passes.

    ``checks`` pairs a boolean column that is true for a valid line with the
    reason to report when it is false or null, most basic first.
    """
    from pyspark.sql import functions as F

    reason = F.lit(None).cast("string")
    for valid, text in reversed(list(checks)):
        reason = F.when(F.coalesce(valid, F.lit(False)), reason).otherwise(F.lit(text))
    return reason
