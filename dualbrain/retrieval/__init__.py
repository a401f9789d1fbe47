"""Retrieval baselines: what dualbrain is measured against (and can be combined with).

The knowledge network answers with nothing in the prompt; these modules put document text *into* the
prompt, for the `rag`, `context` and `knowledge+rag` answer modes and for `dualbrain bench`.
"""

from dualbrain.retrieval.bm25 import BM25Retriever
from dualbrain.retrieval.chunking import Chunk, Retriever, chunk_documents

__all__ = ["BM25Retriever", "Chunk", "Retriever", "chunk_documents"]
