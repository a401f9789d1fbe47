"""The records the catalog hands out: documents, shards, versions and jobs, read from their SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

# 'forgetting': a forget has begun (its shard is being retrained); never learned or retrieved again.
DOCUMENT_STATUSES = ("pending", "learned", "failed", "superseded", "forgetting")


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    sha256: str
    source_name: str
    format: str
    size_bytes: int
    chars: int
    status: str  # one of DOCUMENT_STATUSES
    added_at: str  # ISO-8601 UTC


@dataclass(frozen=True)
class ShardRecord:
    id: str
    created_at: str
    base_identity: str
    document_ids: tuple[str, ...]
    metrics: dict


@dataclass(frozen=True)
class VersionRecord:
    id: str
    created_at: str
    base_identity: str
    shard_ids: tuple[str, ...]
    document_ids: tuple[str, ...]
    metrics: dict


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    status: str  # 'queued' | 'running' | 'done' | 'failed'
    params: dict
    progress: dict | None
    error: str | None
    created_at: str
    updated_at: str


def document_from_row(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(**dict(row))


def shard_from_row(row: sqlite3.Row) -> ShardRecord:
    return ShardRecord(
        id=row["id"],
        created_at=row["created_at"],
        base_identity=row["base_identity"],
        document_ids=tuple(json.loads(row["document_ids"])),
        metrics=json.loads(row["metrics"]),
    )


def version_from_row(row: sqlite3.Row) -> VersionRecord:
    return VersionRecord(
        id=row["id"],
        created_at=row["created_at"],
        base_identity=row["base_identity"],
        shard_ids=tuple(json.loads(row["shard_ids"])),
        document_ids=tuple(json.loads(row["document_ids"])),
        metrics=json.loads(row["metrics"]),
    )


def job_from_row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        params=json.loads(row["params"]),
        progress=json.loads(row["progress"]) if row["progress"] is not None else None,
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
