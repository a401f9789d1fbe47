"""What a change to a knowledge base reports back: learn, forget and consolidate."""

from __future__ import annotations

from dataclasses import dataclass

from dualbrain.learning.intake import IngestReport
from dualbrain.store import VersionRecord


@dataclass
class LearnReport:
    ingest: IngestReport
    version: VersionRecord | None  # None when nothing was ever learned and nothing new came
    metrics: dict  # empty when there was nothing new to learn


@dataclass
class ConsolidateReport:
    merged: list[list[str]]  # the shard ids retrained together, one list per new shard
    version: VersionRecord | None  # the version published (the current one when nothing was merged)
    metrics: dict


@dataclass
class ForgetReport:
    document_id: str
    version: VersionRecord | None  # the version published without the document (None if it held none)
    shards_rebuilt: int
    versions_deleted: list[str]
