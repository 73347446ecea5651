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

Importable without pyspark; the parsers import it inside their functions.
"""
