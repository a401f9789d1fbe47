"""The SQLite catalog of one knowledge base: documents, knowledge shards, published versions, learn jobs.

A *shard* is one trained knowledge network and the documents it was trained on; a *version* is the set
of shards that answered questions after one publish. Shards are never changed: learning adds shards,
forgetting replaces the shards that saw a document by ones rebuilt without it.

WAL mode lets a CLI read while a learn job writes progress. Every public method is one short
transaction, and one connection per :class:`Catalog` is shared between threads behind a lock.
The schema version lives in ``PRAGMA user_version`` so a newer layout can be migrated or refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dualbrain.errors import DualBrainError, DuplicateDocument
from dualbrain.store.pieces import document_of
from dualbrain.store.sqlite import add_functions
from dualbrain.store.records import (
    DOCUMENT_STATUSES, DocumentRecord, JobRecord, ShardRecord, VersionRecord, document_from_row, job_from_row, shard_from_row,
    version_from_row,
)

SCHEMA_VERSION = 2

_DOCUMENTS_TABLE = f"""
CREATE TABLE IF NOT EXISTS documents (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    source_name TEXT NOT NULL,
    format      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    chars       INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN {DOCUMENT_STATUSES}),
    added_at    TEXT NOT NULL
);"""
_KNOWLEDGE_TABLES = """
CREATE TABLE IF NOT EXISTS shards (
    id            TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    base_identity TEXT NOT NULL,
    document_ids  TEXT NOT NULL,
    metrics       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    id            TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    base_identity TEXT NOT NULL,
    shard_ids     TEXT NOT NULL,
    document_ids  TEXT NOT NULL,
    metrics       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS supersessions (
    old_id      TEXT PRIMARY KEY,
    new_id      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
-- Forgotten documents leave only when they were forgotten: no id (a content hash), name or text.
CREATE TABLE IF NOT EXISTS forgotten (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    forgotten_at TEXT NOT NULL
);
-- Ids are never reused: a cache keyed by 'v0002' must not mistake a later v0002 for an earlier one.
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);"""
# IF NOT EXISTS: two processes opening a new catalog at once may both run this; the second is a no-op.
_SCHEMA = f"""
BEGIN IMMEDIATE;
{_DOCUMENTS_TABLE}
{_KNOWLEDGE_TABLES}
CREATE TABLE IF NOT EXISTS jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    params     TEXT NOT NULL,
    progress   TEXT,
    error      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""
# Schema 1 kept one monolithic adapter per version. Its documents are kept (to be learned again, into
# shards); its versions cannot be served by this layout and are dropped.
_MIGRATE_FROM_1 = f"""
BEGIN IMMEDIATE;
ALTER TABLE documents RENAME TO documents_v1;
{_DOCUMENTS_TABLE}
INSERT INTO documents SELECT id, sha256, source_name, format, size_bytes, chars, 'pending', added_at FROM documents_v1;
DROP TABLE documents_v1;
DROP TABLE versions;
{_KNOWLEDGE_TABLES}
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


def _now() -> str:
    # Fixed width (always microseconds) so that timestamps sort correctly as text.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")



class Catalog:
    """Documents, versions and jobs of one knowledge base, stored in ``path``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        # timeout: another process (a learn job) may briefly hold the write lock; wait rather than fail.
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        add_functions(self._conn)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        # Deleted rows (a forgotten document's name and hash) are overwritten, not left in free pages.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self._schema()
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise DualBrainError(
                f"{self.path} was written by a newer dualbrain (catalog schema {version}, "
                f"this version reads up to {SCHEMA_VERSION}); upgrade dualbrain"
            )
        if version == SCHEMA_VERSION:
            return
        # Two processes may open an old catalog at once: migrate under an exclusive lock, deciding from
        # the schema read under it, so the second finds the first's result and does nothing.
        fd = os.open(f"{self.path}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            version = self._schema()
            if version < SCHEMA_VERSION:
                self._conn.executescript(_MIGRATE_FROM_1 if version == 1 else _SCHEMA)
        except BaseException:
            # executescript leaves a failed script's transaction open.
            self._conn.rollback()
            raise
        finally:
            os.close(fd)

    def _schema(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # Documents

    def add_document(
        self, doc_id: str, sha256: str, source_name: str, format: str, size_bytes: int, chars: int
    ) -> DocumentRecord:
        """Record a new 'pending' document; the same content twice raises :class:`DuplicateDocument`."""
        record = DocumentRecord(doc_id, sha256, source_name, format, size_bytes, chars, "pending", _now())
        try:
            with self._lock, self._conn:
                self._conn.execute(
                    "INSERT INTO documents VALUES (:id, :sha256, :source_name, :format, :size_bytes, :chars,"
                    " :status, :added_at)",
                    asdict(record),
                )
        except sqlite3.IntegrityError:
            # The UNIQUE constraint, not an earlier lookup, is what settles a race between two adders.
            self.reject_duplicate(sha256, source_name)
            raise
        return record

    def reject_duplicate(self, sha256: str, source_name: str) -> None:
        """Raise :class:`DuplicateDocument` if a document with this content is already catalogued."""
        existing = self.find_by_sha256(sha256)
        if existing is not None:
            raise DuplicateDocument(
                source_name, f"same content as document {existing.id} ({existing.source_name})"
            )

    def find_by_sha256(self, sha256: str) -> DocumentRecord | None:
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return document_from_row(row) if row else None

    def documents(self, status: str | None = None) -> list[DocumentRecord]:
        """All documents in the order they were added, or only those with ``status``."""
        with self._lock, self._conn:
            if status is None:
                rows = self._conn.execute("SELECT * FROM documents ORDER BY added_at, id").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT * FROM documents WHERE status = ? ORDER BY added_at, id", (status,)
                ).fetchall()
        return [document_from_row(row) for row in rows]

    def get_document(self, doc_id: str) -> DocumentRecord:
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise DualBrainError(f"unknown document '{doc_id}'")
        return document_from_row(row)

    def set_status(self, doc_ids: Iterable[str], status: str, *, unless: str | None = None) -> None:
        """Set the status of all ``doc_ids`` at once but those in status ``unless`` (one statement: no race); none if one is unknown."""
        ids_json = json.dumps(sorted(set(doc_ids)))
        with self._lock, self._conn:
            missing = self._missing_documents(ids_json)
            if missing:
                raise DualBrainError(f"unknown documents: {', '.join(missing)}")
            self._conn.execute(
                "UPDATE documents SET status = ? WHERE id IN (SELECT value FROM json_each(?)) AND status IS NOT ?",
                (status, ids_json, unless),
            )

    def _missing_documents(self, ids_json: str) -> list[str]:
        """Those of the ids (a JSON list) with no document row; the caller holds the lock."""
        rows = self._conn.execute(
            "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM documents)", (ids_json,)
        )
        return [row[0] for row in rows]

    def forget_document(self, doc_id: str) -> list[str]:
        """Delete a document's row and every mention of its id (job records), leaving a tombstone with
        only the time. A document it had superseded is restored ('pending'); returns those ids."""
        with self._lock, self._conn:
            if self._conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,)).rowcount == 0:
                raise DualBrainError(f"unknown document '{doc_id}'")
            restored = [row[0] for row in self._conn.execute("SELECT old_id FROM supersessions WHERE new_id = ?", (doc_id,))]
            self._conn.execute("DELETE FROM supersessions WHERE old_id = ? OR new_id = ?", (doc_id, doc_id))
            self._conn.executemany("UPDATE documents SET status = 'pending' WHERE id = ?", [(old,) for old in restored])
            self._conn.execute(
                "UPDATE jobs SET params = without_mentions(params, :id), progress = without_mentions(progress, :id),"
                " error = without_mentions(error, :id)"
                " WHERE instr(params, :id) > 0 OR instr(progress, :id) > 0 OR instr(error, :id) > 0",
                {"id": doc_id},
            )
            self._conn.execute("INSERT INTO forgotten (forgotten_at) VALUES (?)", (_now(),))
        with self._lock:
            # Move the deleted pages out of the write-ahead log into the (securely overwritten) database.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return restored

    def forgotten(self) -> list[str]:
        """When each forgotten document was forgotten."""
        with self._lock, self._conn:
            return [row[0] for row in self._conn.execute("SELECT forgotten_at FROM forgotten ORDER BY id")]

    def record_supersession(self, old_id: str, new_id: str) -> None:
        """Note that document ``new_id`` replaces ``old_id``, which becomes 'superseded'."""
        with self._lock, self._conn:
            missing = self._missing_documents(json.dumps([old_id, new_id]))
            if missing:
                raise DualBrainError(f"unknown documents: {', '.join(missing)}")
            self._conn.execute("INSERT OR REPLACE INTO supersessions VALUES (?, ?, ?)", (old_id, new_id, _now()))
            self._conn.execute("UPDATE documents SET status = 'superseded' WHERE id = ?", (old_id,))

    def supersessions(self) -> dict[str, str]:
        """Superseded document id → the id of the document that replaced it."""
        with self._lock, self._conn:
            return dict(self._conn.execute("SELECT old_id, new_id FROM supersessions").fetchall())

    # Shards and versions

    def _next_id(self, prefix: str) -> str:
        """A fresh id, never handed out before (deleted ids are not reused): v0001, v0002, … past 9999 it grows."""
        with self._lock, self._conn:
            (value,) = self._conn.execute(
                "INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                (prefix,),
            ).fetchone()
        return f"{prefix}{value:04d}"

    def next_version_id(self) -> str:
        return self._next_id("v")

    def next_shard_id(self) -> str:
        return self._next_id("s")

    def add_shard(self, shard_id: str, base_identity: str, document_ids: Iterable[str], metrics: dict) -> ShardRecord:
        """Record a trained shard; every document it names (whole, or a piece of it) must be in the catalog."""
        ids_json, metrics_json = json.dumps(list(document_ids)), json.dumps(metrics)
        record = ShardRecord(shard_id, _now(), base_identity, tuple(json.loads(ids_json)), json.loads(metrics_json))
        with self._lock, self._conn:
            missing = self._missing_documents(json.dumps([document_of(piece) for piece in record.document_ids]))
            if missing:
                raise DualBrainError(f"shard {shard_id} names unknown documents: {', '.join(missing)}")
            self._conn.execute(
                "INSERT INTO shards VALUES (?, ?, ?, ?, ?)",
                (record.id, record.created_at, base_identity, ids_json, metrics_json),
            )
        return record

    def get_shard(self, shard_id: str) -> ShardRecord:
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM shards WHERE id = ?", (shard_id,)).fetchone()
        if row is None:
            raise DualBrainError(f"unknown shard '{shard_id}'")
        return shard_from_row(row)

    def shards(self) -> list[ShardRecord]:
        with self._lock, self._conn:
            rows = self._conn.execute("SELECT * FROM shards ORDER BY created_at, id").fetchall()
        return [shard_from_row(row) for row in rows]

    def add_version(
        self, version_id: str, base_identity: str, shard_ids: Iterable[str], metrics: dict
    ) -> VersionRecord:
        """Record a published version made of existing shards; its documents are those their pieces come from."""
        shard_ids = tuple(shard_ids)
        with self._lock, self._conn:
            document_ids: list[str] = []
            for shard_id in shard_ids:
                row = self._conn.execute("SELECT document_ids FROM shards WHERE id = ?", (shard_id,)).fetchone()
                if row is None:
                    raise DualBrainError(f"version {version_id} names unknown shard '{shard_id}'")
                document_ids += [document_of(piece) for piece in json.loads(row[0])]
            document_ids = list(dict.fromkeys(document_ids))
            metrics_json = json.dumps(metrics)
            # The record holds what a later get_version reads back (JSON turns tuples into lists, and so on).
            record = VersionRecord(
                version_id, _now(), base_identity, shard_ids, tuple(document_ids), json.loads(metrics_json)
            )
            self._conn.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                (version_id, record.created_at, base_identity, json.dumps(shard_ids), json.dumps(document_ids), metrics_json),
            )
        return record

    def versions(self) -> list[VersionRecord]:
        with self._lock, self._conn:
            rows = self._conn.execute("SELECT * FROM versions ORDER BY created_at, id").fetchall()
        return [version_from_row(row) for row in rows]

    def get_version(self, version_id: str) -> VersionRecord:
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM versions WHERE id = ?", (version_id,)).fetchone()
        if row is None:
            raise DualBrainError(f"unknown version '{version_id}'")
        return version_from_row(row)

    def delete_versions_and_shards(self, version_ids: Iterable[str], shard_ids: Iterable[str]) -> None:
        """Drop these version and shard rows in one transaction (their directories are the caller's)."""
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM versions WHERE id = ?", [(v,) for v in version_ids])
            self._conn.executemany("DELETE FROM shards WHERE id = ?", [(s,) for s in shard_ids])

    # Jobs

    def create_job(self, kind: str, params: dict) -> int:
        """Record a 'queued' job and return its id."""
        now = _now()
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO jobs (kind, status, params, created_at, updated_at) VALUES (?, 'queued', ?, ?, ?)",
                (kind, json.dumps(params), now, now),
            )
        return int(cursor.lastrowid)

    def update_job(
        self, job_id: int, *, status: str | None = None, progress: dict | None = None, error: str | None = None
    ) -> None:
        """Change the given fields of a job (``None`` leaves a field as it is) and touch ``updated_at``."""
        changes: dict[str, Any] = {"updated_at": _now()}
        if status is not None:
            changes["status"] = status
        if progress is not None:
            changes["progress"] = json.dumps(progress)
        if error is not None:
            changes["error"] = error
        assignments = ", ".join(f"{column} = :{column}" for column in changes)  # column names are ours, not input
        with self._lock, self._conn:
            cursor = self._conn.execute(f"UPDATE jobs SET {assignments} WHERE id = :id", changes | {"id": job_id})
        if cursor.rowcount == 0:
            raise DualBrainError(f"unknown job {job_id}")

    def get_job(self, job_id: int) -> JobRecord:
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise DualBrainError(f"unknown job {job_id}")
        return job_from_row(row)

    def jobs(self) -> list[JobRecord]:
        with self._lock, self._conn:
            rows = self._conn.execute("SELECT * FROM jobs ORDER BY id").fetchall()
        return [job_from_row(row) for row in rows]

    def latest_job(self, request: int | None = None) -> JobRecord | None:
        """The newest job, or the newest run for the queued ``request``; one row, not the history (progress polls)."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM jobs WHERE ? IS NULL OR json_extract(params, '$.request') = ? "
                                     "ORDER BY id DESC LIMIT 1", (request, request)).fetchone()
        return job_from_row(row) if row is not None else None
