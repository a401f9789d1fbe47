"""Pieces: how a document longer than a shard is cut, and how a piece's name leads back to its text."""

import pytest

from dualbrain.store.pieces import document_of, piece_start, piece_text, split_document, without_mentions


def test_a_document_that_fits_a_shard_is_one_piece_named_by_its_id() -> None:
    assert split_document("d1", "Short text.", 100) == ["d1"]
    assert document_of("d1") == "d1" and piece_text("Short text.", "d1") == "Short text."


def test_a_long_document_is_cut_at_paragraph_breaks_into_pieces_that_cover_it_exactly() -> None:
    paragraphs = [f"Paragraph {n} says that unit {n} weighs {n * 7} kg.\nIt ships from Tollan." for n in range(40)]
    text = "\n\n".join(paragraphs)
    pieces = split_document("d1", text, 500)
    assert len(pieces) > 1 and all(document_of(piece) == "d1" for piece in pieces)
    parts = [piece_text(text, piece) for piece in pieces]
    assert "".join(parts) == text  # in order, nothing lost, nothing twice
    assert all(len(part) <= 500 for part in parts)
    assert all(part.endswith("\n\n") for part in parts[:-1])  # no paragraph is split


def test_without_paragraphs_a_piece_ends_at_a_line_then_a_sentence_then_anywhere() -> None:
    lines = "\n".join(f"line {n} of a datasheet" for n in range(50))
    assert all(piece_text(lines, p).endswith("\n") for p in split_document("d", lines, 100)[:-1])
    prose = " ".join(f"Sentence {n} is here." for n in range(50))
    assert all(piece_text(prose, p).endswith(". ") for p in split_document("d", prose, 100)[:-1])
    unbroken = "x" * 250
    assert [piece_text(unbroken, p) for p in split_document("d", unbroken, 100)] == ["x" * 100, "x" * 100, "x" * 50]


def test_a_piece_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        split_document("d", "text", 0)


def test_a_piece_starts_where_its_span_does_and_mentions_of_a_document_go_with_its_pieces() -> None:
    assert piece_start("d1") == 0 and piece_start("d1@890-1200") == 890
    text = '{"documents": ["d1@0-56", "d1@56-150", "d2"], "error": "d1 failed"}'
    assert without_mentions(text, "d1") == '{"documents": ["forgotten", "forgotten", "d2"], "error": "forgotten failed"}'
    assert without_mentions(None, "d1") is None
