"""What a change to a knowledge base trains: the shards to build, each with its configuration, and the shards kept.

Learning trains new documents into new shards (a new edition into the shard of the one it replaces; a document
longer than a shard in pieces, a shard each: store/pieces.py); forgetting
retrains the shards that held the document from their other documents, each with the configuration it was
trained with; consolidating retrains shards that name the same things as one. How documents group into shards
is ``knowledge/sharding.py``'s; this module reads the knowledge base to ask it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dualbrain.knowledge.anchors import document_names
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.shard_format import shard_config
from dualbrain.knowledge.sharding import plan_consolidation, plan_shards
from dualbrain.store import KnowledgeBase, VersionRecord
from dualbrain.store.pieces import document_of, piece_text, split_document


@dataclass(frozen=True)
class Plan:
    builds: list[tuple[list[str], LearnConfig]]  # one shard to train per (document ids, configuration)
    kept: list[str]  # the serving shards that stay as they are
    merged: list[list[str]] = field(default_factory=list)  # consolidation: the shard ids each build retrains as one


def plan_learning(kb: KnowledgeBase, current: VersionRecord | None, config: LearnConfig) -> Plan | None:
    """The shards that learn every document ``current`` does not hold yet and drop the documents leaving (a
    superseded edition, a document being forgotten); None when there is nothing to change."""
    records = kb.documents()
    held = set(current.document_ids) if current else set()
    leaving = {doc.id for doc in records if not doc.in_force}
    new = [doc.id for doc in records if doc.id not in held and doc.id not in leaving]
    if not new and not held & leaving:
        return None
    texts = kb.piece_texts(new)
    pieces = [piece for doc_id in new for piece in split_document(doc_id, texts[doc_id], config.shard_chars)]
    plan = plan_shards(
        kb.shard_documents(current),
        {piece: len(piece_text(texts[document_of(piece)], piece)) for piece in pieces},
        add=pieces,
        remove=held & leaving,
        replaces={new_id: old_id for old_id, new_id in kb.catalog.supersessions().items()},
        max_chars=config.shard_chars,
    )
    return Plan([(ids, config) for ids in plan.build], plan.keep)


def plan_forgetting(kb: KnowledgeBase, current: VersionRecord | None, doc_id: str) -> Plan | None:
    """The shards of ``current`` retrained without ``doc_id``; None when ``current`` never learned it."""
    if current is None or doc_id not in current.document_ids:
        return None
    builds, kept = [], []
    for shard_id, pieces in kb.shard_documents(current).items():
        if doc_id not in map(document_of, pieces):
            kept.append(shard_id)
        elif remaining := [piece for piece in pieces if document_of(piece) != doc_id]:
            # Rebuilt exactly as the original was trained: with its own recorded configuration.
            builds.append((remaining, shard_config(kb.shard_dir(shard_id))))
    return Plan(builds, kept)


def plan_consolidating(kb: KnowledgeBase, current: VersionRecord | None, config: LearnConfig) -> Plan | None:
    """The shards of ``current`` whose documents name the same things, each group retrained as one shard (up to
    the shard size); None when no shards are to merge."""
    if current is None:
        return None
    shards = kb.shard_documents(current)
    texts = kb.piece_texts(piece for pieces in shards.values() for piece in pieces)
    names = {piece: document_names(text) for piece, text in texts.items()}
    groups = plan_consolidation(shards, {piece: len(text) for piece, text in texts.items()}, names, config.shard_chars)
    if not groups:
        return None
    merged = {shard_id for group in groups for shard_id in group}
    builds = [([doc_id for shard_id in group for doc_id in shards[shard_id]], config) for group in groups]
    return Plan(builds, [shard_id for shard_id in shards if shard_id not in merged], groups)
