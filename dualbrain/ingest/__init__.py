"""Ingest: user files (txt, Markdown, HTML, PDF, docx) in, normalised plain-text documents out.

:func:`collect_files` expands the paths a user gave into supported files (reporting what it skips);
:func:`extract` turns one file into an :class:`ExtractedDocument` or raises ``IngestError``.
"""

from dualbrain.ingest.readers import SUPPORTED_SUFFIXES, ExtractedDocument, collect_files, extract

__all__ = ["SUPPORTED_SUFFIXES", "ExtractedDocument", "collect_files", "extract"]
