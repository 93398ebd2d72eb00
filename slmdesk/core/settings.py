"""Small persistent settings (JSON values) kept in the database's ``settings`` table."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def get_setting(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value_json FROM settings WHERE key = ?", (key,)).fetchone()
    return default if row is None else json.loads(row[0])


def set_setting(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO settings (key, value_json) VALUES (?, ?)",
                 (key, json.dumps(value)))
