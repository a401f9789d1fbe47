"""BM25 retrieval over passages (bm25s: sparse-matrix BM25, no network, no model)."""

from __future__ import annotations

import bm25s

from dualbrain.retrieval.chunking import Chunk


class BM25Retriever:
    """Ranks passages for a question by BM25 with English stop words removed."""

    def __init__(self, chunks: list[Chunk]):
        if not chunks:
            raise ValueError("nothing to retrieve from")
        self.chunks = chunks
        self._index = bm25s.BM25()
        self._index.index(self._tokens([c.text for c in chunks]), show_progress=False)

    @staticmethod
    def _tokens(texts: list[str]) -> bm25s.tokenization.Tokenized:
        return bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def retrieve(self, question: str, k: int) -> list[Chunk]:
        """The ``k`` best passages, best first (fewer when the corpus is smaller)."""
        k = min(k, len(self.chunks))
        indices, _ = self._index.retrieve(self._tokens([question]), k=k, show_progress=False)
        return [self.chunks[i] for i in indices[0]]
