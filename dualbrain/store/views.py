"""What a knowledge base shows of itself: the summary, document and version views the CLI and the server print.

One shape each, so `dualbrain kb show --json` and `GET /v1/kbs/{name}` say the same things in the same words.
"""

from __future__ import annotations

from dualbrain.store.records import DocumentRecord
from dualbrain.store.knowledge_base import KnowledgeBase


def summary(kb: KnowledgeBase) -> dict:
    """Its documents (how many, how many still to learn), the version serving and that version's metrics."""
    version = kb.current_version()
    documents = kb.documents()
    return {
        "name": kb.name,
        "documents": len(documents),
        "pending": sum(doc.status == "pending" for doc in documents),
        "current_version": version.id if version else None,
        "shards": len(version.shard_ids) if version else 0,
        "metrics": {key: value for key, value in version.metrics.items() if key != "shards"} if version else {},
    }


def document_view(document: DocumentRecord) -> dict:
    return {"id": document.id, "source_name": document.source_name, "format": document.format, "status": document.status,
            "chars": document.chars, "size_bytes": document.size_bytes, "sha256": document.sha256,
            "added_at": document.added_at}


def version_views(kb: KnowledgeBase) -> list[dict]:
    """Every kept version, oldest first, marked where it is the one serving."""
    current = kb.current_version()
    return [{"id": v.id, "current": current is not None and v.id == current.id, "created_at": v.created_at,
             "documents": list(v.document_ids), "shards": list(v.shard_ids), "tokens_trained": v.metrics.get("tokens_trained")}
            for v in kb.catalog.versions()]
