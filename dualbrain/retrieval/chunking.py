"""Split documents into ~300-character passages between fact units, the unit that RAG retrieves.

Passages are cut where training views are cut (:mod:`dualbrain.ingest.units`) and carry the headings their
units stand under, so retrieval finds "Part number: XR-100" when asked about the Corvex C2.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Protocol

from dualbrain.ingest.units import TextUnit, text_units

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
    """Passages of at most ``max_chars`` (a longer single unit stays whole), in document order."""
    return [
        Chunk(document_id, passage)
        for document_id, text in documents
        for passage in render_passages(text_units(text), lambda passage: len(passage) <= max_chars)
    ]


def render_passages(units: list[TextUnit], fits: Callable[[str], bool]) -> list[str]:
    """``units`` as plain-text passages, one unit a line, each passage as long as ``fits`` allows.

    A passage opens with the headings of its first unit, and names a heading again where its units move
    under another one, so every passage says what its facts are about.
    """
    passages: list[str] = []
    lines: list[str] = []
    shown: tuple[str, ...] = ()
    for unit in units:
        common = next((i for i, (a, b) in enumerate(zip(shown, unit.context)) if a != b), min(len(shown), len(unit.context)))
        candidate = lines + list(unit.context[common:]) + [unit.text]
        if lines and not fits("\n".join(candidate)):
            passages.append("\n".join(lines))
            candidate = [*unit.context, unit.text]
        lines, shown = candidate, unit.context
    if lines:
        passages.append("\n".join(lines))
    return passages
