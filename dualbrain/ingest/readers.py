"""Turn user files (text, Markdown, HTML, PDF, Word) into normalised plain-text documents.

This is the only place that understands file formats: everything after ingest works on
:class:`ExtractedDocument` text. Every problem a user's file can cause — unsupported type, too large,
unreadable, corrupt, encrypted, empty — becomes an :class:`~dualbrain.errors.IngestError` with a one-line
reason, so one bad file never stops a batch.
"""

import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.table import Table
from bs4 import BeautifulSoup, NavigableString
from pypdf import PasswordType, PdfReader

from dualbrain.errors import IngestError

# Suffix (lower case) → format name. Markdown stays Markdown: it is already readable text.
_FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

# Elements that start a new line when rendered; everything else is inline text.
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul",
]  # fmt: skip
# Elements whose content is never page text.
_INVISIBLE_TAGS = ["script", "style", "noscript", "head", "template"]


@dataclass(frozen=True)
class ExtractedDocument:
    """One input file as plain text, plus what is needed to recognise it again."""

    source_name: str  # base name only, so no local paths leak into the knowledge base
    format: str  # "txt" | "md" | "html" | "pdf" | "docx"
    text: str  # normalised plain text, never empty
    sha256: str  # hex digest of the raw file bytes
    size_bytes: int  # raw size


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[IngestError]]:
    """Expand folders recursively (folder by folder, names sorted; hidden entries skipped), keep supported files.

    Returns ``(files, problems)``. A missing path or an unsupported file — also one found inside a
    folder, so users see what was skipped — is reported in ``problems``; this never raises for a bad path.
    """
    files: list[Path] = []
    problems: list[IngestError] = []
    for path in paths:
        if path.is_dir():
            candidates = _walk(path, problems)
        elif path.exists():
            candidates = [path]
        else:
            problems.append(IngestError(str(path), "no such file or folder"))
            continue
        for candidate in candidates:
            if candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(candidate)
            else:
                problems.append(IngestError(str(candidate), _unsupported_reason(candidate)))
    return files, problems


def _walk(folder: Path, problems: list[IngestError]) -> list[Path]:
    """Files under ``folder`` in sorted order, skipping hidden files and folders (.git, .DS_Store …)."""

    def report(error: OSError) -> None:
        # os.walk silently drops unreadable folders by default; users should hear about them.
        problems.append(IngestError(str(error.filename), f"cannot read folder ({error.strerror})"))

    found: list[Path] = []
    for root, dirnames, filenames in os.walk(folder, onerror=report):
        # Pruning and sorting dirnames in place controls which folders os.walk visits, and in what order.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(root, name) for name in sorted(filenames) if not name.startswith("."))
    return found


def _unsupported_reason(path: Path) -> str:
    kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
    return f"unsupported file type {kind}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"


def extract(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> ExtractedDocument:
    """Read one file and return its normalised text.

    Raises :class:`IngestError` for an unsupported suffix, a file that is too large, unreadable,
    corrupt (or encrypted), or that holds no text.
    """
    name = path.name
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise IngestError(name, _unsupported_reason(path))
    data = _read_limited(path, max_bytes)
    text = normalise(_READERS[file_format](data, name))
    if not text:
        raise IngestError(name, _empty_reason(file_format))
    return ExtractedDocument(name, file_format, text, hashlib.sha256(data).hexdigest(), len(data))


def _read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing oversized or empty files before reading them into memory."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(name, _too_large_reason(size, max_bytes))
        if size == 0:
            # Also avoids blocking on special files (FIFOs report size 0).
            raise IngestError(name, "empty file")
        with path.open("rb") as handle:
            # Read one byte past the limit in case the file grew after stat().
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise IngestError(name, f"cannot read file ({error.strerror or error})") from error
    if len(data) > max_bytes:
        raise IngestError(name, _too_large_reason(len(data), max_bytes))
    return data


def _too_large_reason(size: int, max_bytes: int) -> str:
    return f"file too large ({size:,} bytes; the limit is {max_bytes:,} bytes)"


def _empty_reason(file_format: str) -> str:
    if file_format == "pdf":
        return "no extractable text (a scanned PDF without a text layer? run OCR on it first)"
    return "no text in file (empty or whitespace only)"


def _read_text(data: bytes, name: str) -> str:
    # A NUL byte never occurs in real text files but almost always in binaries (and UTF-16).
    if b"\x00" in data:
        raise IngestError(name, "binary content, not a text file")
    try:
        # utf-8-sig decodes plain UTF-8 too, and drops a byte-order mark if there is one.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(name, f"not valid UTF-8 text (bad byte at offset {error.start})") from error


def _read_html(data: bytes, name: str) -> str:
    # Given bytes, BeautifulSoup detects the encoding from <meta charset> or the content itself.
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(_INVISIBLE_TAGS):
        tag.decompose()
    # Source whitespace is insignificant in HTML (as in a browser); collapse it before adding line breaks.
    for string in soup.find_all(string=True):
        if type(string) is NavigableString:  # leave comments, doctypes … alone; get_text() skips them
            string.replace_with(re.sub(r"\s+", " ", string))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    return "\n".join(line.strip() for line in soup.get_text().split("\n"))


def _read_pdf(data: bytes, name: str) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many "encrypted" PDFs only restrict printing and open with the empty password.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError(name, "encrypted PDF (password protected); save an unprotected copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except Exception as error:  # pypdf raises many error types (and plain ones) for broken files
        raise IngestError(name, f"corrupt PDF ({error})") from error
    return "\n\n".join(pages)


def _read_docx(data: bytes, name: str) -> str:
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        # Body order keeps tables where the author put them, not appended after all paragraphs.
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(cell.text for row in block.rows for cell in row.cells)
            else:
                lines.append(block.text)
    except Exception as error:  # not a zip, or a zip without a Word document inside
        raise IngestError(name, f"corrupt Word document ({error})") from error
    return "\n".join(lines)


_READERS: dict[str, Callable[[bytes, str], str]] = {
    "txt": _read_text,
    "md": _read_text,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
}


def normalise(text: str) -> str:
    """The one text normalisation every format goes through, so equal content gives equal text."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)  # at most one blank line in a row
    return text.strip()
