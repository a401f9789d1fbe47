"""The machine's queue of learning work: uploads waiting to be learned, documents waiting to be forgotten.

The server enqueues and answers at once; one worker process runs one request at a time (one heavy job per
machine: training uses every core), taking turns between knowledge bases: the next request is the oldest of the
knowledge base whose turn came longest ago, so one tenant's long queue or long document does not hold up the
others (a learn yields between two shards when another knowledge base waits). Requests live in SQLite
(``$DUALBRAIN_HOME/queue.sqlite3``), so a restart resumes the queue; a request that a dead worker left
``running`` is queued again when the next worker starts, which is safe: interrupted learning publishes nothing,
and forget finishes what it began.
Live training progress is in the knowledge base's own catalog (its jobs table), not here.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dualbrain.errors import DualBrainError
from dualbrain.store.sqlite import open_database

REQUEST_KINDS = ("learn", "forget")
REQUEST_STATUSES = ("queued", "running", "done", "failed")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kb         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('learn', 'forget')),
    params     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (  -- when each knowledge base's request was last taken
    kb       TEXT PRIMARY KEY,
    taken_at TEXT NOT NULL
);"""


@dataclass(frozen=True)
class WorkRequest:
    id: int
    kb: str
    kind: str
    params: dict
    status: str
    error: str | None
    created_at: str
    updated_at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class WorkQueue:
    def __init__(self, path: Path):
        self._connection = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def enqueue(self, kb: str, kind: str, params: dict | None = None) -> WorkRequest:
        if kind not in REQUEST_KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        now = _now()
        with self._lock:
            cursor = self._connection.execute(
                "INSERT INTO requests (kb, kind, params, status, created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?)",
                (kb, kind, json.dumps(params or {}), now, now),
            )
        return self.get(int(cursor.lastrowid))

    def claim(self) -> WorkRequest | None:
        """The next queued request, now marked running (atomic: two claimers never get the same one): the oldest of
        the knowledge base whose turn came longest ago (one that never had one first)."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                row = self._connection.execute(
                    "SELECT id, requests.kb FROM requests LEFT JOIN turns ON turns.kb = requests.kb "
                    "WHERE status = 'queued' ORDER BY taken_at IS NOT NULL, taken_at, id LIMIT 1").fetchone()
                if row is not None:
                    now = _now()
                    self._connection.execute("UPDATE requests SET status = 'running', updated_at = ? WHERE id = ?", (now, row[0]))
                    self._connection.execute("INSERT OR REPLACE INTO turns VALUES (?, ?)", (row[1], now))
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
        return self.get(row[0]) if row is not None else None

    def finish(self, request_id: int, error: str | None = None) -> None:
        """Mark a request done (or failed with ``error``). A forget's parameters (the document id) are
        scrubbed: nothing about a forgotten document stays behind."""
        status = "failed" if error is not None else "done"
        with self._lock:
            self._connection.execute(
                "UPDATE requests SET status = ?, error = ?, updated_at = ?, "
                "params = CASE kind WHEN 'forget' THEN '{}' ELSE params END WHERE id = ?",
                (status, error, _now(), request_id),
            )

    def scrub(self, doc_id: str) -> None:
        """Remove every mention of a forgotten document's id (a failed request's error may name it), also from
        the write-ahead log."""
        with self._lock:
            self._connection.execute(
                "UPDATE requests SET error = without_mentions(error, :id), params = without_mentions(params, :id)"
                " WHERE instr(error, :id) > 0 OR instr(params, :id) > 0", {"id": doc_id})
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def requeue(self, request_id: int) -> None:
        """Queue a running request again: it stopped to let other knowledge bases go first, and resumes in its turn."""
        with self._lock:
            self._connection.execute("UPDATE requests SET status = 'queued', updated_at = ? WHERE id = ? AND status = 'running'",
                                     (_now(), request_id))

    def others_waiting(self, kb: str) -> bool:
        """Whether a request of a knowledge base other than ``kb`` is queued."""
        with self._lock:
            return self._connection.execute(
                "SELECT 1 FROM requests WHERE status = 'queued' AND kb != ? LIMIT 1", (kb,)).fetchone() is not None

    def requeue_running(self) -> int:
        """Queue again what a worker that died left running; returns how many."""
        with self._lock:
            return self._connection.execute(
                "UPDATE requests SET status = 'queued', updated_at = ? WHERE status = 'running'", (_now(),)
            ).rowcount

    def get(self, request_id: int) -> WorkRequest:
        with self._lock:
            row = self._connection.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise DualBrainError(f"unknown request {request_id}")
        return _request(row)

    def list(self, kb: str | None = None) -> list[WorkRequest]:
        with self._lock:
            if kb is None:
                rows = self._connection.execute("SELECT * FROM requests ORDER BY id").fetchall()
            else:
                rows = self._connection.execute("SELECT * FROM requests WHERE kb = ? ORDER BY id", (kb,)).fetchall()
        return [_request(row) for row in rows]

    def drop_kb(self, kb: str) -> None:
        """Remove a deleted knowledge base's requests (a running one finishes into nothing)."""
        with self._lock:
            self._connection.execute("DELETE FROM requests WHERE kb = ?", (kb,))
            self._connection.execute("DELETE FROM turns WHERE kb = ?", (kb,))

    def counts(self) -> dict[str, int]:
        """How many requests are in each status."""
        with self._lock:
            return dict(self._connection.execute("SELECT status, count(*) FROM requests GROUP BY status").fetchall())

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _request(row: tuple) -> WorkRequest:
    return WorkRequest(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7])
