"""Storage: the home directory, knowledge bases on disk, their SQLite catalogs, and crash-safe writes.

The layout of the home and of each knowledge base lives here; the rest of dualbrain works through these
classes. What goes inside a shard folder (adapter, manifest) and the converted-model cache are written by
``knowledge/`` and ``reasoning/``; docs/architecture.md lists every path and its owner.
"""

from dualbrain.store.atomic import atomic_write_bytes, atomic_write_text
from dualbrain.store.catalog import Catalog
from dualbrain.store.records import DocumentRecord, JobRecord, VersionRecord
from dualbrain.store.home import Home, default_home
from dualbrain.store.knowledge_base import KnowledgeBase
from dualbrain.store.quotas import Quotas

__all__ = [
    "Catalog",
    "DocumentRecord",
    "Home",
    "JobRecord",
    "KnowledgeBase",
    "Quotas",
    "VersionRecord",
    "atomic_write_bytes",
    "atomic_write_text",
    "default_home",
]
