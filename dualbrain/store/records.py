"""The records the catalog hands out: documents, shards, versions and jobs, read from their SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

R = TypeVar("R")

# 'forgetting': a forget has begun (its shard is being retrained); never learned or retrieved again.
DOCUMENT_STATUSES = ("pending", "learned", "failed", "superseded", "forgetting")
# The documents on their way out: their facts are out of date or going, so nothing answers from them.
LEAVING_STATUSES = ("superseded", "forgetting")


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

    @property
    def in_force(self) -> bool:
        """Whether answers may use it (it is neither superseded nor being forgotten)."""
        return self.status not in LEAVING_STATUSES


@dataclass(frozen=True)
class ShardRecord:
    id: str
    created_at: str
    base_identity: str
    document_ids: tuple[str, ...]  # what it learned: whole documents' ids, or pieces of long ones (store/pieces.py)
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
    return _from_row(DocumentRecord, row)


def shard_from_row(row: sqlite3.Row) -> ShardRecord:
    return _from_row(ShardRecord, row, document_ids=_ids, metrics=json.loads)


def version_from_row(row: sqlite3.Row) -> VersionRecord:
    return _from_row(VersionRecord, row, shard_ids=_ids, document_ids=_ids, metrics=json.loads)


def job_from_row(row: sqlite3.Row) -> JobRecord:
    return _from_row(JobRecord, row, params=json.loads, progress=lambda text: None if text is None else json.loads(text))


def _ids(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _from_row(record: type[R], row: sqlite3.Row, **decode: Callable[[Any], Any]) -> R:
    """``record`` from the columns of ``row`` named as its fields, those stored as JSON text ``decode``d."""
    names = [item.name for item in fields(record)]
    return record(**{name: decode[name](row[name]) if name in decode else row[name] for name in names})
