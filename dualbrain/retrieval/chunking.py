"""Split documents into ~300-character passages at sentence boundaries, the unit that RAG retrieves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dualbrain.ingest.sentences import sentences

DEFAULT_CHUNK_CHARS = 300


@dataclass(frozen=True)
class Chunk:
    document_id: str
    text: str


class Retriever(Protocol):
    """What every retrieval baseline offers: its passages, and the best ``k`` for a question."""

    chunks: list[Chunk]

    def retrieve(self, question: str, k: int) -> list[Chunk]: ...


def chunk_documents(documents: list[tuple[str, str]], max_chars: int = DEFAULT_CHUNK_CHARS) -> list[Chunk]:
    """Passages of at most ``max_chars`` (a longer single sentence stays whole), in document order."""
    chunks: list[Chunk] = []
    for document_id, text in documents:
        current = ""
        for sentence in sentences(text):
            if current and len(current) + 1 + len(sentence) > max_chars:
                chunks.append(Chunk(document_id, current))
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            chunks.append(Chunk(document_id, current))
    return chunks
