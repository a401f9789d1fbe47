"""What a knowledge base shows of itself: the summary, document and version views the CLI and the server print.

One shape each, so `dualbrain kb show --json` and `GET /v1/kbs/{name}` say the same things in the same words.
A document's ``memory`` says what answers for it: ``short-term`` (its passages: it is not learned yet),
``learning`` (the same, while a running job trains it, with that job's progress), ``weights`` (a published shard
holds it), or None for a document on its way out (superseded, being forgotten).
"""

from __future__ import annotations

from dualbrain.store.records import DocumentRecord
from dualbrain.store.knowledge_base import KnowledgeBase
from dualbrain.store.pieces import document_of

MEMORY_COUNTS = {"short-term": "short_term", "learning": "learning", "weights": "in_weights"}  # memory → summary field
_PROGRESS_SHOWN = ("phase", "step", "total_steps", "shard", "shards", "eta_seconds")  # of a learning document's job


def summary(kb: KnowledgeBase) -> dict:
    """Its documents (how many, how many each memory answers for), the version serving and that version's metrics."""
    version = kb.current_version()
    documents = document_views(kb)
    return {
        "name": kb.name,
        "documents": len(documents),
        "pending": sum(doc["status"] == "pending" for doc in documents),
        **{MEMORY_COUNTS[memory]: sum(doc["memory"] == memory for doc in documents) for memory in MEMORY_COUNTS},
        "current_version": version.id if version else None,
        "shards": len(version.shard_ids) if version else 0,
        "metrics": {key: value for key, value in version.metrics.items() if key != "shards"} if version else {},
    }


def document_views(kb: KnowledgeBase) -> list[dict]:
    """Every document, oldest first, with the memory that answers for it (the module docstring)."""
    version = kb.current_version()
    held = set(version.document_ids) if version else set()
    job = kb.catalog.latest_job()  # the one a running worker is on
    training = {document_of(piece) for shard in job.params.get("shards", []) for piece in shard["documents"]} \
        if job is not None and job.status == "running" else set()
    views = []
    for document in kb.documents():
        memory = None if not document.in_force else "weights" if document.id in held \
            else "learning" if document.id in training else "short-term"
        view = _document_fields(document) | {"memory": memory}
        if memory == "learning":
            view["progress"] = {key: job.progress[key] for key in _PROGRESS_SHOWN} if job.progress else None
        views.append(view)
    return views


def _document_fields(document: DocumentRecord) -> dict:
    return {"id": document.id, "source_name": document.source_name, "format": document.format, "status": document.status,
            "chars": document.chars, "size_bytes": document.size_bytes, "sha256": document.sha256,
            "added_at": document.added_at}


def version_views(kb: KnowledgeBase) -> list[dict]:
    """Every kept version, oldest first, marked where it is the one serving."""
    current = kb.current_version()
    return [{"id": v.id, "current": current is not None and v.id == current.id, "created_at": v.created_at,
             "documents": list(v.document_ids), "shards": list(v.shard_ids), "tokens_trained": v.metrics.get("tokens_trained")}
            for v in kb.catalog.versions()]
