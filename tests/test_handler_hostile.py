"""Property test: hostile task messages submit nothing, and each rejection names a field.

Each message is a valid one with one hostile change. The changes are a wrong
type, an unknown field (jar, class, script...), a huge string, a window that
is not UTC or is reversed, an unregistered job, shell metacharacters, or text
that is not a JSON object at all.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okeanos.state.sqlite import SqliteStateStore
from okeanos.task import JOB_NAME_PATTERN
from okeanos_handler import app
from okeanos_handler.config import HandlerConfig
from okeanos_handler.loop import REJECTED, LoopController
from tests.loop_support import JOBS, Clock, RecordingDeadLetters, sns_event, task_body

KNOWN_FIELDS = {
    "message", "version", "task", "job", "input", "input.uri", "input.format", "window",
    "window.lastnhours", "window.runasof", "window.from", "window.to", "resubmit",
    "interval_seconds", "deployment", "deployment.cluster_id", "deployment.topic_arn",
    "deployment.state_table",
}
STRING_FIELDS = [("task",), ("job",), ("input", "uri"), ("input", "format"), ("window", "runasof")]
INT_FIELDS = [("version",), ("interval_seconds",), ("window", "lastnhours")]
OBJECT_FIELDS = [("input",), ("window",), ("deployment",)]
INJECTED_KEYS = ["jar", "class", "mainClass", "script", "args", "command", "py_files", "spark_submit", "env"]
METACHARACTERS = list(";|&$`<>\"'\\()!") + ["$(id)", "`id`", "&&", "||", " ", "\n", "${IFS}"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


class RecordingRunner:
    """A cluster that only records the steps it is asked to add."""

    cluster_id = "j-HOSTILETEST"

    def __init__(self) -> None:
        self.added: List[Tuple[str, List[str]]] = []

    def check_cluster(self) -> None:
        pass

    def active_steps(self):
        return []

    def add_step(self, name, args):
        self.added.append((name, list(args)))
        return f"s-{len(self.added)}"

    def step_state(self, step_id):
        return "RUNNING"

    def step_task(self, step_id):
        return None


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: List[str] = []

    def publish(self, body, *, delay_seconds=0, attempt=0):
        self.sent.append(body)


def put(body: Dict[str, Any], path: Tuple[str, ...], value: Any) -> Dict[str, Any]:
    changed = copy.deepcopy(body)
    target = changed
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return changed


def base() -> Dict[str, Any]:
    return task_body(deployment={"cluster_id": RecordingRunner.cluster_id})


@st.composite
def wrong_type(draw) -> str:
    kind = draw(st.sampled_from(["string", "int", "bool", "object"]))
    if kind == "string":
        path = draw(st.sampled_from(STRING_FIELDS))
        value = draw(json_values.filter(lambda v: not isinstance(v, str)))
    elif kind == "int":
        path = draw(st.sampled_from(INT_FIELDS))
        value = draw(json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool)))
    elif kind == "bool":
        path = ("resubmit",)
        value = draw(json_values.filter(lambda v: not isinstance(v, bool)))
    else:
        path = draw(st.sampled_from(OBJECT_FIELDS))
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    return json.dumps(put(base(), path, value))


@st.composite
def unknown_field(draw) -> str:
    key = draw(st.sampled_from(INJECTED_KEYS) | st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
    where = draw(st.sampled_from([(), ("input",), ("window",), ("deployment",)]))
    allowed = {(): set(base()), ("input",): {"uri", "format"}, ("window",): {"runasof", "lastnhours", "from", "to"},
               ("deployment",): {"cluster_id", "topic_arn", "state_table"}}[where]
    if key in allowed:
        key = key + "_x"
    value = draw(st.sampled_from(["s3://evil/evil.jar", "com.evil.Main", "/bin/sh -c id", 1, None]))
    return json.dumps(put(base(), where + (key,), value))


@st.composite
def huge_string(draw) -> str:
    path = draw(st.sampled_from(STRING_FIELDS + [("deployment", "cluster_id")]))
    size = draw(st.integers(min_value=4097, max_value=40000))
    return json.dumps(put(base(), path, draw(st.sampled_from("a/ $")) * size))


@st.composite
def non_utc_window(draw) -> str:
    hours = draw(st.integers(min_value=1, max_value=14))
    sign = draw(st.sampled_from("+-"))
    suffix = draw(st.sampled_from([f"{sign}{hours:02d}:00", "", f"{sign}{hours:02d}30", " CET"]))
    moment = f"2015-05-17T10:00:00{suffix}"
    if draw(st.booleans()):
        return json.dumps(put(base(), ("window",), {"runasof": moment, "lastnhours": 2}))
    field = draw(st.sampled_from(["from", "to"]))
    window = {"from": "2015-05-17T00:00:00Z", "to": "2015-05-18T00:00:00Z"}
    window[field] = moment
    return json.dumps(put(base(), ("window",), window))


@st.composite
def reversed_window(draw) -> str:
    start = draw(st.integers(min_value=0, max_value=10_000))
    back = draw(st.integers(min_value=0, max_value=5_000))
    from datetime import datetime, timedelta, timezone

    origin = datetime(2015, 5, 17, tzinfo=timezone.utc) + timedelta(minutes=start)
    end = origin - timedelta(minutes=back)
    window = {"from": origin.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return json.dumps(put(base(), ("window",), window))


@st.composite
def unregistered_job(draw) -> str:
    job = draw(st.from_regex(JOB_NAME_PATTERN, fullmatch=True).filter(lambda name: name not in JOBS))
    return json.dumps(put(base(), ("job",), job))


@st.composite
def shell_metacharacters(draw) -> str:
    path = draw(st.sampled_from(STRING_FIELDS + [("deployment", "cluster_id"), ("deployment", "state_table")]))
    original = base()
    for key in path:
        original = original.get(key, {}) if isinstance(original, dict) else {}
    text = original if isinstance(original, str) and original else "s3://example-logs/apache/"
    position = draw(st.integers(min_value=0, max_value=len(text)))
    injected = draw(st.sampled_from(METACHARACTERS)) + draw(st.sampled_from(["", "rm -rf /", "curl x|sh", "id"]))
    return json.dumps(put(base(), path, text[:position] + injected + text[position:]))


@st.composite
def not_an_object(draw) -> str:
    kind = draw(st.sampled_from(["value", "truncated", "garbage"]))
    if kind == "value":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    if kind == "truncated":
        text = json.dumps(base())
        return text[: draw(st.integers(min_value=0, max_value=len(text) - 1))]
    return draw(st.text(max_size=200).filter(lambda t: not t.strip().startswith("{")))


hostile_messages = st.one_of(
    wrong_type(), unknown_field(), huge_string(), non_utc_window(), reversed_window(),
    unregistered_job(), shell_metacharacters(), not_an_object(),
)


def build_controller():
    runner = RecordingRunner()
    dead = RecordingDeadLetters()
    controller = LoopController(
        config=HandlerConfig(cluster_id=runner.cluster_id, job_package_uri="s3://a/p.zip", entry_script_uri="s3://a/m.py"),
        store=SqliteStateStore(":memory:"),
        runner=runner,
        publisher=RecordingPublisher(),
        dead_letters=dead,
        jobs=JOBS,
        clock=Clock(),
    )
    return controller, runner, dead


def test_valid_base_message_submits():
    controller, runner, _ = build_controller()
    app.use_controller(controller)
    try:
        result = app.handler(sns_event(json.dumps(base())), None)
    finally:
        app.use_controller(None)
    assert result["outcomes"] == ["submitted"]
    assert len(runner.added) == 1


@settings(max_examples=1000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=hostile_messages)
def test_hostile_message_rejected(body):
    controller, runner, dead = build_controller()
    app.use_controller(controller)
    try:
        result = app.handler(sns_event(body, message_ids=["hostile-1"]), None)
    finally:
        app.use_controller(None)
    field = dead.items[0]["reason"].split(":", 1)[0] if dead.items else ""
    injected = set(re.findall(r'"([A-Za-z_]+)"', body))
    assert result["outcomes"] == [REJECTED]
    assert runner.added == []
    assert len(dead.items) == 1
    assert dead.items[0]["message_id"] == "hostile-1"
    assert field in KNOWN_FIELDS or field.split(".")[-1] in injected
