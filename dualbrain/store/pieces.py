"""Pieces: the parts of a document longer than a shard, each learned by a shard of its own.

A shard learns at most ``shard_chars`` characters, so that what a change costs (and how long the worker is busy
before another knowledge base's request gets its turn) is bounded however long one upload is. A shorter
document is learned whole and named by its id; a longer one is cut into pieces, each named
``<document id>@<start>-<end>`` after the characters of its text it holds. Shard records list these names; a
version's documents are the documents its shards' pieces come from, and the document is learned only when every
piece of it is (all pieces train in one learn and are published together).
"""

from __future__ import annotations

import re

_SEPARATOR = "@"
# Where a piece is best cut, in order of preference: between paragraphs, between lines, between sentences.
_BREAKS = ("\n\n", "\n", ". ")


def document_of(piece: str) -> str:
    """The id of the document ``piece`` (a piece's name, or a whole document's id) comes from."""
    return piece.partition(_SEPARATOR)[0]


def span_of(piece: str) -> str:
    """The ``<start>-<end>`` of ``piece`` ("" for a whole document)."""
    return piece.partition(_SEPARATOR)[2]


def _bounds(piece: str) -> tuple[int, int] | None:
    """Where ``piece`` begins and ends in its document; None for a whole document."""
    span = span_of(piece)
    return tuple(int(bound) for bound in span.split("-")) if span else None


def piece_start(piece: str) -> int:
    """Where in its document ``piece`` begins (0 for a whole document): its pieces put together in this order."""
    bounds = _bounds(piece)
    return bounds[0] if bounds else 0


def without_mentions(text: str | None, doc_id: str) -> str | None:
    """``text`` with every mention of document ``doc_id``, and of its pieces (their spans tell its length and
    breaks), replaced by "forgotten"."""
    if text is None:
        return None
    return re.sub(re.escape(doc_id) + r"(?:" + _SEPARATOR + r"\d+-\d+)?", "forgotten", text)


def piece_text(text: str, piece: str) -> str:
    """The part of its document's ``text`` that ``piece`` names (all of it for a whole document)."""
    bounds = _bounds(piece)
    return text[bounds[0]:bounds[1]] if bounds else text


def split_document(doc_id: str, text: str, max_chars: int) -> list[str]:
    """The pieces of at most ``max_chars`` characters that document ``doc_id`` is learned in: ``[doc_id]`` when it
    fits one shard, else cuts at the last paragraph, line or sentence break in the second half of each piece (a
    hard cut only where there is none), so a fact is seldom split between two shards."""
    if max_chars < 1:
        raise ValueError(f"invalid piece size: {max_chars}")
    if len(text) <= max_chars:
        return [doc_id]
    pieces, start = [], 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            end = next((cut + len(mark) for mark in _BREAKS
                        if (cut := text.rfind(mark, start + max_chars // 2, end)) >= 0), end)
        pieces.append(f"{doc_id}{_SEPARATOR}{start}-{end}")
        start = end
    return pieces
