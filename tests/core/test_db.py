"""Schema versions and migrations on real SQLite files."""

from __future__ import annotations

import sqlite3

import pytest

from slmdesk.core import db


def test_new_database_is_wal_and_at_current_version(tmp_path):
    conn = db.connect(tmp_path / "new.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.schema_version(conn) == db.SCHEMA_VERSION
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def test_migrations_run_once_and_in_order(tmp_path):
    steps = [["CREATE TABLE a (x)"], ["CREATE TABLE b (y)", "INSERT INTO b VALUES (1)"]]
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert db.migrate(conn, steps[:1]) == 1
    assert db.migrate(conn, steps) == 2
    assert db.migrate(conn, steps) == 2
    assert conn.execute("SELECT count(*) FROM b").fetchone()[0] == 1


def test_failed_migration_rolls_back_and_keeps_version(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    db.migrate(conn, [["CREATE TABLE a (x)"]])
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(conn, [["CREATE TABLE a (x)"], ["CREATE TABLE c (z)", "NOT SQL"]])
    assert db.schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'c'").fetchone() is None


def test_database_from_a_newer_app_is_refused_clearly(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(db.DatabaseError, match="newer SLM Desk"):
        db.connect(path)


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(db.DatabaseError, match="Cannot open the database"):
        db.connect(path)
