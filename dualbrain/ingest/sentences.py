"""Split normalised document text into sentences (and list items / lines), one rule for the whole project.

Training views, passage chunks and retrieval chunks all cut text at the same places, so a fact is never
split one way for learning and another way for retrieval. A full stop after a title or abbreviation
("Dr. Kasimir Oduya", "Acme Inc.") does not end a sentence.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_ABBREVIATION_END = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Prof|St|Mt|No|Inc|Ltd|Co|Corp|Jr|Sr|vs|etc|e\.g|i\.e)\.$")


def sentences(text: str) -> list[str]:
    """Every non-empty sentence, list item or line of ``text``, stripped, in order."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if pieces and _ABBREVIATION_END.search(pieces[-1]):
            pieces[-1] += " " + piece  # "Dr." ends a title, not the sentence
        else:
            pieces.append(piece)
    return pieces
