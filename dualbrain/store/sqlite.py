"""Opening the small SQLite databases of a home (API keys, the work queue) the same way everywhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dualbrain.store.pieces import without_mentions


def add_functions(connection: sqlite3.Connection) -> None:
    """SQL functions the stores use: ``without_mentions(text, document id)`` (``store/pieces.py``)."""
    connection.create_function("without_mentions", 2, without_mentions, deterministic=True)


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """An autocommit connection to ``path`` (created with ``schema`` if new), shareable between threads
    behind the caller's lock; WAL so that readers never wait for a writer; deleted rows overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # timeout: another process (the worker, a CLI) may briefly hold the write lock; wait rather than fail.
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA secure_delete=ON")
    connection.executescript(schema)
    add_functions(connection)
    return connection
