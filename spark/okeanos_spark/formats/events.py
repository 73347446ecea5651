"""The ``events`` format: job-board application events as JSON lines.

One JSON object per line, as :mod:`okeanos.generate.events` writes them::

    {"event_id": "e0000000042", "timestamp": "2026-03-02T10:15:30.123+02:00",
     "event_type": "click", "job_id": "job-00017", "user_id": "u-000311",
     "session_id": "s-0000042", "channel": "search", "position": 3}

- ``timestamp`` (required): ISO-8601 with a ``T``, seconds, an optional
  fraction of 1 to 6 digits, and an offset (``Z`` or ``+HH:MM``). It is
  converted to UTC by that offset;
- ``event_type`` (required): ``impression``, ``click`` or ``apply``;
- ``job_id`` (required): the job posting, any string;
- ``event_id``, ``user_id``, ``session_id``, ``channel`` (optional strings);
- ``position`` (optional): a whole number from 0 to 999,999,999, as a JSON
  number or string.

Other keys are ignored. Reasons for rejecting a line: ``bad_json`` (not a
JSON object), ``missing_field``, ``bad_timestamp``, ``bad_event_type``,
``bad_position``.
"""

from __future__ import annotations

from typing import Any

from okeanos_spark.formats import BAD_JSON, BAD_TIMESTAMP, MISSING_FIELD, register_format
from okeanos_spark.formats import json_lines
from okeanos_spark.formats.base import InputFormat, first_reason
from okeanos_spark.registry import APP_EVENT

EVENT_TYPES = ("impression", "click", "apply")
BAD_EVENT_TYPE = "bad_event_type"
BAD_POSITION = "bad_position"

_KEYS = ("timestamp", "event_id", "event_type", "job_id", "user_id", "session_id", "channel", "position")
_REQUIRED = ("timestamp", "event_type", "job_id")
_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"
_POSITION_PATTERN = r"^[0-9]{1,9}$"


class EventsFormat(InputFormat):
    """Job-board events (impression, click, apply) as JSON lines."""

    name = "events"
    schema = APP_EVENT
    description = "job-board events as JSON lines (timestamp, event_type, job_id, ...)"

    def parse(self, lines: Any) -> Any:
        """Extract the app-event fields; see the module docstring for the rules."""
        from pyspark.sql import functions as F

        decoded = json_lines.decode(lines, _KEYS)
        key = json_lines.key

        position = key("position")
        complete = json_lines.all_present(_REQUIRED)
        fields = decoded.select(
            "file",
            "line",
            json_lines.is_object().alias("is_object"),
            complete.alias("complete"),
            F.try_to_timestamp(key("timestamp"), F.lit(_TIME_FORMAT)).alias("ts"),
            key("event_id").alias("event_id"),
            key("event_type").alias("event_type"),
            key("job_id").alias("job_id"),
            key("user_id").alias("user_id"),
            key("session_id").alias("session_id"),
            key("channel").alias("channel"),
            (position.isNull() | position.rlike(_POSITION_PATTERN)).alias("position_valid"),
            # Cast only when valid, so the cast cannot fail under ANSI mode.
            F.when(position.rlike(_POSITION_PATTERN), position.cast("int")).alias("position"),
        )
        reason = first_reason(
            [
                (F.col("is_object"), BAD_JSON),
                (F.col("complete"), MISSING_FIELD),
                (F.col("ts").isNotNull(), BAD_TIMESTAMP),
                (F.col("event_type").isin(*EVENT_TYPES), BAD_EVENT_TYPE),
                (F.col("position_valid"), BAD_POSITION),
            ]
        )
        return fields.select("*", reason.alias("reason"))



FORMAT = register_format(EventsFormat())
