"""Storage: the home directory, knowledge bases on disk, their SQLite catalogs, and crash-safe writes.

Everything that touches the disk layout lives here; the rest of dualbrain works through these classes.
"""

from dualbrain.store.atomic import atomic_write_bytes, atomic_write_text
from dualbrain.store.catalog import Catalog, DocumentRecord, JobRecord, VersionRecord
from dualbrain.store.home import Home, default_home
from dualbrain.store.knowledge_base import KnowledgeBase

__all__ = [
    "Catalog",
    "DocumentRecord",
    "Home",
    "JobRecord",
    "KnowledgeBase",
    "VersionRecord",
    "atomic_write_bytes",
    "atomic_write_text",
    "default_home",
]
