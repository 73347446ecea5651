"""Task state in a SQLite file, for local mode and the CLI on one machine.

Each write runs in a ``BEGIN IMMEDIATE`` transaction, which takes the
database's write lock before reading, so the read and the conditional write
of one operation cannot interleave with another process's.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from okeanos.state.base import TaskState, VersionedStateStore
from okeanos.windows import format_utc

_COLUMNS = (
    "task", "status", "message", "claim_token", "claim_expires", "step_id", "step_window",
    "step_submitted", "last_completed", "last_completed_step", "consecutive_failures", "recent_failures", "updated",
    "version",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS task_state (
    task TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT,
    claim_token TEXT,
    claim_expires TEXT,
    step_id TEXT,
    step_window TEXT,
    step_submitted TEXT,
    last_completed TEXT,
    last_completed_step TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    recent_failures TEXT NOT NULL DEFAULT '[]',
    updated TEXT,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    message_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


class SqliteStateStore(VersionedStateStore):
    """Task state in the SQLite database at ``path`` (``":memory:"`` for tests).

    The same file also contains the local dead-letter list (:meth:`add_dead_letter`).
    """

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are opened explicitly below.
        self._connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._connection.close()

    def list(self) -> List[TaskState]:
        rows = self._connection.execute("SELECT * FROM task_state ORDER BY task").fetchall()
        return [TaskState.from_record(dict(row)) for row in rows]

    def _load(self, key: str) -> Optional[TaskState]:
        row = self._connection.execute("SELECT * FROM task_state WHERE task = ?", (key,)).fetchone()
        return TaskState.from_record(dict(row)) if row is not None else None

    def _mutate(self, key, change):  # type: ignore[override]
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                result = super()._mutate(key, change)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")
            return result

    def _write(self, state: TaskState, expected_version: int) -> bool:
        record: Dict[str, Any] = state.to_record()
        values = [record[name] for name in _COLUMNS]
        if expected_version == 0:
            cursor = self._connection.execute(
                f"INSERT OR IGNORE INTO task_state ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                values,
            )
        else:
            assignments = ", ".join(f"{name} = ?" for name in _COLUMNS[1:])
            cursor = self._connection.execute(
                f"UPDATE task_state SET {assignments} WHERE task = ? AND version = ?",
                values[1:] + [state.key, expected_version],
            )
        return cursor.rowcount == 1

    def add_dead_letter(self, *, message_id: str, reason: str, body: str, now: datetime) -> None:
        """Append a rejected message to the local dead-letter list."""
        with self._lock:
            self._connection.execute(
                "INSERT INTO dead_letters (time, message_id, reason, body) VALUES (?, ?, ?, ?)",
                (format_utc(now), message_id, reason, body),
            )

    def dead_letters(self) -> List[Dict[str, str]]:
        """Return the local dead-letter list, oldest first."""
        rows = self._connection.execute(
            "SELECT time, message_id, reason, body FROM dead_letters ORDER BY id"
        ).fetchall()
        return [dict(row) for row in rows]
