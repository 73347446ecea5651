"""The task message: what one SNS message requests okeanos to aggregate.

One definition, used by the Lambda handler (to validate and submit), the CLI
(to publish), the Spark job (to know what to run) and the constructs (to
build the messages of configured tasks). Validation is strict: unknown
fields, wrong types, oversized messages, windows that are not UTC or are
reversed, and unregistered jobs are rejected with a :class:`TaskMessageError`
that names the field.

Wire format (JSON object, UTF-8)::

    {
      "version": 1,
      "task": "web-apache",                 # task name, also the view's source
      "job": "http_status_hourly",          # a registered job name
      "input": {"uri": "s3://logs/apache/", "format": "combined"},
      "window": {"runasof": "now", "lastnhours": 2},
                # or {"runasof": "2015-05-18T00:00:00Z", "lastnhours": 2}
                # or {"from": "2015-05-17T00:00:00Z", "to": "2015-05-18T00:00:00Z"}
      "resubmit": true,                     # keep the loop going after this step
      "interval_seconds": 60,               # least delay before the next cycle
      "deployment": {"cluster_id": "j-...", "topic_arn": "arn:...", "state_table": "..."}
    }

Only standard-library imports, and Python 3.9 syntax, so the module runs in
Lambda, on EMR and on an operator's laptop alike.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Collection, Dict, Mapping, Optional

from okeanos.exceptions import TaskMessageError, WindowError
from okeanos.windows import Window, format_utc, parse_utc, utc_now

SCHEMA_VERSION = 1

# SNS accepts up to 256 KiB, but a task is a few hundred bytes. The lower
# bound keeps an accidental payload (a whole log line, say) out of EMR step
# arguments, whose total length EMR limits to 10,240 characters.
MAX_MESSAGE_BYTES = 4096

MAX_LASTNHOURS = 24 * 366
MAX_INTERVAL_SECONDS = 7 * 24 * 3600

# Task names become OpenSearch field values, document-id parts, DynamoDB keys
# and EMR step names, so they are kept to a conservative alphabet.
TASK_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
JOB_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
FORMAT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
# Either an S3 URI or an absolute local path (local mode). The location ends
# up in step arguments and in commands that operators paste into a shell, so
# white space, control characters, lone surrogates and shell metacharacters
# are rejected.
SHELL_METACHARACTERS = frozenset(";|&$`<>\"'\\()!")
_URI_CHARACTER = "[^\\s\\x00-\\x1f\\x7f\\ud800-\\udfff;|&$`<>\"'\\\\()!]"
INPUT_URI_PATTERN = (
    r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/" + _URI_CHARACTER + r"*)?|/" + _URI_CHARACTER + r"*)$"
)
CLUSTER_ID_PATTERN = r"^j-[A-Z0-9]{1,32}$"
TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
STATE_TABLE_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
MAX_URI_LENGTH = 1024

_TOP_FIELDS = ("version", "task", "job", "input", "window", "resubmit", "interval_seconds", "deployment")
_REQUIRED_TOP = ("version", "task", "job", "input", "window")
_INPUT_FIELDS = ("uri", "format")
_DEPLOYMENT_FIELDS = ("cluster_id", "topic_arn", "state_table")


@dataclass(frozen=True)
class TaskWindow:
    """The window a task covers: "last N hours as of T", or a fixed ``[from, to)``.

    ``runasof`` of ``None`` with ``lastnhours`` set means "as of now", resolved
    by :meth:`resolve` when the step is submitted.
    """

    lastnhours: Optional[int] = None
    runasof: Optional[datetime] = None
    start: Optional[datetime] = None
    end: Optional[datetime] = None

    @property
    def is_relative(self) -> bool:
        """Whether the window is "last N hours as of T" rather than fixed."""
        return self.lastnhours is not None

    def resolve(self, now: Optional[datetime] = None) -> Window:
        """Return the concrete UTC window, taking ``now`` for a ``runasof`` of "now"."""
        if self.lastnhours is not None:
            moment = self.runasof or now or utc_now()
            return Window.last_n_hours(moment, self.lastnhours)
        assert self.start is not None and self.end is not None
        return Window(self.start, self.end)

    def to_dict(self) -> Dict[str, Any]:
        """Return the wire form of the window."""
        if self.lastnhours is not None:
            runasof = format_utc(self.runasof) if self.runasof else "now"
            return {"runasof": runasof, "lastnhours": self.lastnhours}
        assert self.start is not None and self.end is not None
        return {"from": format_utc(self.start), "to": format_utc(self.end)}

    @classmethod
    def fixed(cls, window: Window) -> "TaskWindow":
        """Build a fixed ``[from, to)`` task window, as a backfill uses."""
        return cls(start=window.start, end=window.end)


@dataclass(frozen=True)
class Deployment:
    """Identifiers that a deployment sets on its tasks; every one is optional locally."""

    cluster_id: Optional[str] = None
    topic_arn: Optional[str] = None
    state_table: Optional[str] = None

    def to_dict(self) -> Dict[str, str]:
        """Return the wire form, leaving out unset identifiers."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class TaskMessage:
    """A validated task message. Build one with :func:`parse_task` or directly."""

    task: str
    job: str
    input_uri: str
    input_format: str
    window: TaskWindow
    resubmit: bool = False
    interval_seconds: int = 0
    deployment: Deployment = field(default_factory=Deployment)
    version: int = SCHEMA_VERSION

    @property
    def source(self) -> str:
        """The source name carried by this task's view documents (the task name)."""
        return self.task

    def to_dict(self) -> Dict[str, Any]:
        """Return the wire form as a JSON-ready dict."""
        body: Dict[str, Any] = {
            "version": self.version,
            "task": self.task,
            "job": self.job,
            "input": {"uri": self.input_uri, "format": self.input_format},
            "window": self.window.to_dict(),
            "resubmit": self.resubmit,
            "interval_seconds": self.interval_seconds,
        }
        deployment = self.deployment.to_dict()
        if deployment:
            body["deployment"] = deployment
        return body

    def to_json(self) -> str:
        """Serialize to compact JSON with sorted keys (stable across runs)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_argument(self) -> str:
        """Encode for a command line as URL-safe base64 of the JSON.

        EMR's command-runner.jar and shells may split or expand spaces,
        quotes, ``$`` and braces. The base64 alphabet contains none of those,
        so the Spark job receives the message byte for byte.
        """
        return base64.urlsafe_b64encode(self.to_json().encode("utf-8")).decode("ascii")

    def with_window(self, window: TaskWindow) -> "TaskMessage":
        """Return a copy covering another window."""
        return replace(self, window=window)


def from_argument(argument: str, jobs: Optional[Collection[str]] = None) -> TaskMessage:
    """Decode and validate a message produced by :meth:`TaskMessage.to_argument`."""
    try:
        raw = base64.urlsafe_b64decode(argument.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise TaskMessageError("argument", "is not URL-safe base64 of a task message") from exc
    return parse_task(raw, jobs=jobs)


def parse_task(
    body: "str | bytes | Mapping[str, Any]",
    jobs: Optional[Collection[str]] = None,
    formats: Optional[Collection[str]] = None,
) -> TaskMessage:
    """Validate a task message and return it as a :class:`TaskMessage`.

    Parameters
    ----------
    body
        The message as JSON text, UTF-8 bytes, or an already decoded mapping.
    jobs
        Registered job names. When given, a job outside it is rejected.
    formats
        Known input format names. When given, a format outside it is rejected.

    Raises
    ------
    TaskMessageError
        On the first problem found, naming the field.
    """
    data = _decode(body)
    _check_fields(data, "", _TOP_FIELDS, _REQUIRED_TOP)

    version = data["version"]
    if not _is_int(version) or version != SCHEMA_VERSION:
        raise TaskMessageError("version", f"must be {SCHEMA_VERSION}, got {version!r}")

    task = _matching(data, "task", TASK_NAME_PATTERN, "lower-case letters, digits, '.', '_' or '-'")
    job = _matching(data, "job", JOB_NAME_PATTERN, "a registered job name such as http_status_hourly")
    if jobs is not None and job not in jobs:
        raise TaskMessageError("job", f"{job!r} is not a registered job; registered: {sorted(jobs)}")

    input_spec = _object(data, "input")
    _check_fields(input_spec, "input.", _INPUT_FIELDS, _INPUT_FIELDS)
    raw_uri = input_spec["uri"]
    unsafe = sorted(set(raw_uri) & SHELL_METACHARACTERS) if isinstance(raw_uri, str) else []
    if unsafe:
        raise TaskMessageError(
            "input.uri", f"contains {''.join(unsafe)!r}; shell metacharacters are not accepted in a location"
        )
    uri = _matching(input_spec, "uri", INPUT_URI_PATTERN, "an s3:// URI or an absolute local path", "input.")
    if len(uri) > MAX_URI_LENGTH:
        raise TaskMessageError("input.uri", f"is {len(uri)} characters long; the limit is {MAX_URI_LENGTH}")
    input_format = _matching(input_spec, "format", FORMAT_PATTERN, "a format name such as combined", "input.")
    if formats is not None and input_format not in formats:
        raise TaskMessageError(
            "input.format", f"{input_format!r} is not a known format; known: {sorted(formats)}"
        )

    window = _parse_window(_object(data, "window"))

    resubmit = data.get("resubmit", False)
    if not isinstance(resubmit, bool):
        raise TaskMessageError("resubmit", f"must be true or false, got {resubmit!r}")
    interval = data.get("interval_seconds", 0)
    if not _is_int(interval) or not 0 <= interval <= MAX_INTERVAL_SECONDS:
        raise TaskMessageError(
            "interval_seconds", f"must be a whole number from 0 to {MAX_INTERVAL_SECONDS}, got {interval!r}"
        )

    deployment = Deployment()
    if "deployment" in data:
        spec = _object(data, "deployment")
        _check_fields(spec, "deployment.", _DEPLOYMENT_FIELDS, ())
        deployment = Deployment(
            cluster_id=_optional_matching(spec, "cluster_id", CLUSTER_ID_PATTERN, "an EMR cluster id (j-...)"),
            topic_arn=_optional_matching(spec, "topic_arn", TOPIC_ARN_PATTERN, "an SNS topic ARN"),
            state_table=_optional_matching(spec, "state_table", STATE_TABLE_PATTERN, "a DynamoDB table name"),
        )

    return TaskMessage(
        task=task,
        job=job,
        input_uri=uri,
        input_format=input_format,
        window=window,
        resubmit=resubmit,
        interval_seconds=interval,
        deployment=deployment,
        version=version,
    )


def json_schema() -> Dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the task message, for operators and docs.

    The schema states the wire format; :func:`parse_task` additionally checks
    what JSON Schema cannot express (UTC instants, ``from`` before ``to``, the
    byte limit, the registered jobs).
    """
    utc_time = {
        "type": "string",
        "description": "ISO-8601 instant in UTC, ending in Z or +00:00",
        "pattern": r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:?00))?$",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://okeanos.dev/schemas/task-message-v1.json",
        "title": "okeanos task message",
        "description": f"One aggregation task; at most {MAX_MESSAGE_BYTES} bytes of UTF-8 JSON.",
        "type": "object",
        "additionalProperties": False,
        "required": list(_REQUIRED_TOP),
        "properties": {
            "version": {"const": SCHEMA_VERSION},
            "task": {"type": "string", "pattern": TASK_NAME_PATTERN,
                     "description": "Task name; also the source name of its view documents."},
            "job": {"type": "string", "pattern": JOB_NAME_PATTERN, "description": "A registered job name."},
            "input": {
                "type": "object",
                "additionalProperties": False,
                "required": list(_INPUT_FIELDS),
                "properties": {
                    "uri": {"type": "string", "pattern": INPUT_URI_PATTERN, "maxLength": MAX_URI_LENGTH},
                    "format": {"type": "string", "pattern": FORMAT_PATTERN},
                },
            },
            "window": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["lastnhours"],
                        "properties": {
                            "runasof": {"oneOf": [{"const": "now"}, utc_time]},
                            "lastnhours": {"type": "integer", "minimum": 1, "maximum": MAX_LASTNHOURS},
                        },
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["from", "to"],
                        "properties": {"from": utc_time, "to": utc_time},
                    },
                ]
            },
            "resubmit": {"type": "boolean", "default": False},
            "interval_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_INTERVAL_SECONDS, "default": 0},
            "deployment": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "cluster_id": {"type": "string", "pattern": CLUSTER_ID_PATTERN},
                    "topic_arn": {"type": "string", "pattern": TOPIC_ARN_PATTERN},
                    "state_table": {"type": "string", "pattern": STATE_TABLE_PATTERN},
                },
            },
        },
    }


def _decode(body: "str | bytes | Mapping[str, Any]") -> Dict[str, Any]:
    if isinstance(body, Mapping):
        size = len(json.dumps(body, default=str).encode("utf-8"))
        data: Any = dict(body)
    else:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if not isinstance(raw, (bytes, bytearray)):
            raise TaskMessageError("message", f"must be JSON text, got {type(body).__name__}")
        size = len(raw)
        if size > MAX_MESSAGE_BYTES:
            raise TaskMessageError("message", f"is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")
        try:
            data = json.loads(
                raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_unique_keys
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise TaskMessageError("message", f"is not valid UTF-8 JSON ({exc})") from exc
        except RecursionError as exc:
            raise TaskMessageError("message", "is nested too deeply to be a task message") from exc
    if size > MAX_MESSAGE_BYTES:
        raise TaskMessageError("message", f"is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")
    if not isinstance(data, dict):
        raise TaskMessageError("message", f"must be a JSON object, got {type(data).__name__}")
    return data


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list) -> Dict[str, Any]:
    # json.loads keeps the last of duplicate keys, so a message could show a
    # reviewer one value and run another.
    data: Dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def _check_fields(data: Mapping[str, Any], prefix: str, allowed, required) -> None:
    for key in data:
        if key not in allowed:
            raise TaskMessageError(f"{prefix}{key}", f"unknown field; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise TaskMessageError(f"{prefix}{key}", "missing required field")


def _object(data: Mapping[str, Any], key: str) -> Dict[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise TaskMessageError(key, f"must be a JSON object, got {_type_name(value)}")
    return value


def _matching(data: Mapping[str, Any], key: str, pattern: str, what: str, prefix: str = "") -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TaskMessageError(f"{prefix}{key}", f"must be a string ({what}), got {_type_name(value)}")
    if not re.match(pattern, value) or "\n" in value:
        raise TaskMessageError(f"{prefix}{key}", f"{_preview(value)} is invalid; expected {what}")
    return value


def _optional_matching(data: Mapping[str, Any], key: str, pattern: str, what: str) -> Optional[str]:
    if key not in data:
        return None
    return _matching(data, key, pattern, what, "deployment.")


def _parse_window(spec: Dict[str, Any]) -> TaskWindow:
    if "lastnhours" in spec or "runasof" in spec:
        _check_fields(spec, "window.", ("runasof", "lastnhours"), ("lastnhours",))
        hours = spec["lastnhours"]
        if not _is_int(hours) or not 1 <= hours <= MAX_LASTNHOURS:
            raise TaskMessageError(
                "window.lastnhours", f"must be a whole number from 1 to {MAX_LASTNHOURS}, got {hours!r}"
            )
        runasof_text = spec.get("runasof", "now")
        runasof = None
        if runasof_text != "now":
            runasof = _utc(runasof_text, "window.runasof")
        return TaskWindow(lastnhours=hours, runasof=runasof)

    _check_fields(spec, "window.", ("from", "to"), ("from", "to"))
    start = _utc(spec["from"], "window.from")
    end = _utc(spec["to"], "window.to")
    if start >= end:
        raise TaskMessageError(
            "window.to", f"{format_utc(end)} is not after window.from {format_utc(start)}"
        )
    return TaskWindow(start=start, end=end)


def _utc(value: Any, field_name: str) -> datetime:
    try:
        return parse_utc(value, field_name)
    except WindowError as exc:
        raise TaskMessageError(field_name, str(exc).split(": ", 1)[-1]) from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _preview(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
