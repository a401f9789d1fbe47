"""A knowledge base's passages, and the indexes over them that answers read: retrievers and the support check.

Passages are cut from the documents still in force (a superseded document's facts are out of date, a forgotten
one's are going). Asked for a knowledge version, each document it learned is cut as its shard learned it: where
that shard learned with newer facts winning, with the values later documents of the shard changed
(``knowledge/updates.py``), so the passages a knowledge answer is checked against, or read beside, agree with
the weights. The short-term memory is the passages of the documents the serving version has not learned yet
(``answering/modes.py``). Everything is cut and indexed once and rebuilt only when the documents or the version
change.
"""

from __future__ import annotations

from dualbrain.answering.config import RETRIEVERS
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.shard_format import shard_config
from dualbrain.knowledge.support import SupportIndex
from dualbrain.knowledge.updates import as_of_now
from dualbrain.retrieval import Chunk, Retriever, chunk_documents
from dualbrain.retrieval.context import documents_by_relevance
from dualbrain.store import KnowledgeBase, VersionRecord
from dualbrain.store.pieces import document_of, piece_start, piece_text


class Passages:
    """The passages of one knowledge base, as written or as a version learned them, and their indexes."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        # Each with the key of what it was cut for: (document ids, version id or None).
        self._cut: dict[str, tuple[tuple, list[Chunk]]] = {}  # view → (key, passages)
        self._retrievers: dict[tuple[str, str], tuple[tuple, Retriever]] = {}  # (kind, view) → (key, index)
        self._support: tuple[tuple, SupportIndex] | None = None

    def retriever(self, kind: str = "bm25", learned_by: VersionRecord | None = None) -> Retriever:
        """An index of ``kind`` (see :data:`RETRIEVERS`) over the passages, as ``learned_by`` learned them."""
        return self._index(kind, "as learned" if learned_by is not None else "as written", learned_by)

    def short_term_retriever(self, kind: str, version: VersionRecord | None) -> Retriever:
        """An index of ``kind`` over the short-term memory: the passages of the documents ``version`` has not
        learned yet, which answer for them until a published shard holds them."""
        return self._index(kind, "short-term", version)

    def support_index(self, version: VersionRecord) -> SupportIndex:
        """What answers of ``version``'s knowledge are checked against: the passages as it learned them (none
        while every document it learned is being forgotten: then nothing is supported)."""
        key, passages = self._passages("as learned", version)
        if self._support is None or self._support[0] != key:
            self._support = (key, SupportIndex([passage.text for passage in passages]))
        return self._support[1]

    def documents_by_relevance(self, question: str) -> list[str]:
        """The texts of the documents in force, the most relevant to ``question`` (BM25) first."""
        return [self.kb.document_text(doc_id) for doc_id in documents_by_relevance(self.retriever(), question)]

    def drop_stale(self, in_force: set[str]) -> None:
        """Drop what was cut or indexed from any document no longer in force (forgotten, withdrawn, superseded)."""
        def stale(key: tuple) -> bool:
            return not set(key[0]) <= in_force

        self._cut = {view: cut for view, cut in self._cut.items() if not stale(cut[0])}
        self._retrievers = {name: index for name, index in self._retrievers.items() if not stale(index[0])}
        if self._support is not None and stale(self._support[0]):
            self._support = None

    def _index(self, kind: str, view: str, version: VersionRecord | None) -> Retriever:
        key, passages = self._passages(view, version)
        if not passages:
            raise DualBrainError(f"knowledge base '{self.kb.name}' has no documents to retrieve from")
        if (kind, view) not in self._retrievers or self._retrievers[kind, view][0] != key:
            self._retrievers[kind, view] = (key, RETRIEVERS[kind](passages))
        return self._retrievers[kind, view][1]

    def _passages(self, view: str, version: VersionRecord | None) -> tuple[tuple, list[Chunk]]:
        """The passages of the documents in force: all of them ``as written``, or ``as learned`` by ``version``, or
        the ``short-term`` ones, which ``version`` has not learned."""
        records = [doc for doc in self.kb.documents() if doc.in_force]
        if view == "short-term":
            held = set(version.document_ids) if version else set()
            records = [doc for doc in records if doc.id not in held]
        key = (tuple(doc.id for doc in records), version.id if version else None)
        if view not in self._cut or self._cut[view][0] != key:
            texts = {doc.id: self.kb.document_text(doc.id) for doc in records}
            if view == "as learned":
                texts.update(self._as_learned(version, texts))
            self._cut[view] = (key, chunk_documents(list(texts.items())))
        return self._cut[view]

    def _as_learned(self, version: VersionRecord, texts: dict[str, str]) -> dict[str, str]:
        """The texts of ``version``'s documents whose shards learned them as of now (newer facts winning); a long
        document's pieces (store/pieces.py) put together again, in order."""
        learned: dict[str, list[tuple[int, str]]] = {}
        for shard_id, pieces in self.kb.shard_documents(version).items():
            held = [(piece, piece_text(texts[document_of(piece)], piece)) for piece in pieces if document_of(piece) in texts]
            if shard_config(self.kb.shard_dir(shard_id)).newer_facts_win:  # pieces in the order learned, oldest first
                held = as_of_now(held)
            for piece, text in held:
                learned.setdefault(document_of(piece), []).append((piece_start(piece), text))
        # By where each piece begins: a rebuilt shard is listed after the kept ones, whichever piece it holds.
        return {doc_id: "".join(text for _, text in sorted(parts)) for doc_id, parts in learned.items()}
