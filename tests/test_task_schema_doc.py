"""The committed JSON Schema of the task message equals the one the code generates."""

from __future__ import annotations

import json
from pathlib import Path

from okeanos.cli import main
from okeanos.task import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "task-message.schema.json"


def test_committed_schema_current():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == json_schema(), "regenerate with: okeanos task-schema > docs/task-message.schema.json"


def test_task_schema_command_prints_schema(capsys):
    assert main(["task-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
