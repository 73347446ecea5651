"""Input formats: each parses raw log lines into one of the common schemas.

A format is registered under the name the CLI and task messages use
(``combined``, ``nginx-json``, ``events``, ...). :func:`get_format` returns
it; its ``read`` method turns a list of input files into one DataFrame with:

- the columns of its common schema (see ``okeanos_spark.schemas``), null on
  lines that did not parse;
- ``file`` (string): the file the line came from;
- ``status`` (string): ``parsed``, ``rejected`` or ``skipped`` (header and
  comment lines that are part of the format, such as CloudFront's ``#Fields``);
- ``reason`` (string): why a line was rejected, null otherwise;
- ``line`` (string): the raw line, kept only so rejects can be sampled.

Because ``status`` names the outcome of a line, the HTTP status of the
``web_request`` schema is the column ``http_status``.

Usage, as a run does it::

    from okeanos_spark import transforms
    from okeanos_spark.formats import get_format
    from okeanos_spark.inputs import list_files

    files = list_files("/var/log/nginx")            # or "s3://bucket/prefix/"
    records = get_format("combined").read(spark, files)
    rejected = records.filter("status = 'rejected'")  # with a reason
    parsed = transforms.parsed_rows(records)        # status = 'parsed', schema columns only
    limited = transforms.limit_to(parsed, span)     # span: an okeanos.windows.Window
    view = job.transform(transforms.add_bucket(limited, job.granularity))

Adding a format means adding one module to this package that defines an
:class:`~okeanos_spark.formats.base.InputFormat` subclass, passes an
instance to :func:`register_format`, and is listed in :data:`_MODULES`.

Importable without pyspark; the parsers import it inside their functions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Dict, List, Optional

from okeanos.exceptions import OkeanosError

if TYPE_CHECKING:
    from okeanos_spark.formats.base import InputFormat

# Values of the ``status`` column.
PARSED = "parsed"
REJECTED = "rejected"
SKIPPED = "skipped"

# Values of the ``reason`` column shared by several formats. A format may add
# its own, in the same lower_snake_case style.
EMPTY_LINE = "empty_line"
UNPARSEABLE = "unparseable"
BAD_JSON = "bad_json"
MISSING_FIELD = "missing_field"
BAD_TIMESTAMP = "bad_timestamp"
BAD_STATUS = "bad_status"
BAD_BYTES = "bad_bytes"

# Modules of this package that register a format when imported.
_MODULES = (
    "combined",
    "nginx_json",
    "events",
    "alb",
    "cloudfront",
    "s3_access",
)

_FORMATS: Dict[str, "InputFormat"] = {}


class FormatNotFoundError(OkeanosError, KeyError):
    """No input format is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def register_format(input_format: "InputFormat") -> "InputFormat":
    """Add ``input_format`` to the registry; a second format with the same name is an error."""
    name = input_format.name
    if name in _FORMATS and _FORMATS[name] is not input_format:
        raise ValueError(f"format {name!r} is already registered")
    _FORMATS[name] = input_format
    return input_format


def _load() -> Dict[str, "InputFormat"]:
    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return _FORMATS


def get_format(name: str) -> "InputFormat":
    """Return the format registered as ``name``.

    Raises
    ------
    FormatNotFoundError
        If no format has that name; the message lists the registered ones.
    """
    formats = _load()
    if name not in formats:
        raise FormatNotFoundError(
            f"format {name!r} is not registered; registered formats: {', '.join(sorted(formats))}"
        )
    return formats[name]


def format_names(schema: Optional[str] = None) -> List[str]:
    """Return the registered format names, sorted, optionally only those parsing into ``schema``."""
    formats = _load()
    return sorted(name for name, fmt in formats.items() if schema is None or fmt.schema == schema)


def all_formats() -> List["InputFormat"]:
    """Return every registered format, sorted by name."""
    formats = _load()
    return [formats[name] for name in sorted(formats)]
