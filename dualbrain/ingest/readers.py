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
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import docx
import ftfy
from docx.table import Table
from bs4 import BeautifulSoup, NavigableString, Tag
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
# A Word document is a zip archive, and its reader holds every part in memory: what it unpacks to is limited
# before anything is unpacked (a 2 MB zip can declare a 2 GB part). Python's zipfile never inflates a part past
# the size the archive declares for it, so the declared sizes bound the memory. A long report with images
# unpacks to a few times its zipped size.
MAX_UNPACKED_BYTES = 4 * MAX_DOCUMENT_BYTES
MAX_ARCHIVE_MEMBERS = 10_000

# Elements that start a new line when rendered; everything else is inline text.
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul",
]  # fmt: skip
_HEADING_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
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
    try:
        text = normalise(_READERS[file_format](data, name))
    except IngestError:
        raise
    except Exception as error:  # whatever a parser raises for a file it chokes on is that file's problem alone
        raise IngestError(name, f"cannot read this {file_format} file ({type(error).__name__}: {error})") from error
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
    """The page's visible text as light Markdown: headings, list items and table rows marked as in a .md file."""
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
    for table in soup.find_all("table"):
        table.replace_with("\n\n" + _markdown_table(_html_rows(table)) + "\n\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    for heading in soup.find_all(_HEADING_TAGS):
        heading.insert(0, "#" * int(heading.name[1]) + " ")
    for item in soup.find_all("li"):
        item.insert(0, "- ")
    return "\n".join(line.strip() for line in soup.get_text().split("\n"))


def _html_rows(table: Tag) -> list[tuple[list[str], bool]]:
    """Each row of ``table`` as (cell texts, whether it is a header row of <th> cells only)."""
    rows = []
    for row in table.find_all("tr"):
        cells = row.find_all(["td", "th"])
        texts = [" ".join(cell.get_text(" ").split()) for cell in cells]
        rows.append((texts, bool(cells) and all(cell.name == "th" for cell in cells)))
    return rows


def _markdown_table(rows: list[tuple[list[str], bool]]) -> str:
    """Rows as Markdown table lines; a header row is followed by the separator line that marks it."""
    lines = []
    for cells, is_header in rows:
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
        if is_header:
            lines.append("|" + "---|" * len(cells))
    return "\n".join(lines)


def _read_pdf(data: bytes, name: str) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many "encrypted" PDFs only restrict printing and open with the empty password.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError(name, "encrypted PDF (password protected); save an unprotected copy first")
        pages = [_pdf_page_text(page) for page in reader.pages]
    except IngestError:
        raise
    except Exception as error:  # pypdf raises many error types (and plain ones) for broken files
        raise IngestError(name, f"corrupt PDF ({error})") from error
    return "\n\n".join(pages)


# A gap between two lines wider than this many font sizes ends a paragraph (line spacing is ~1.2 font sizes;
# paragraph spacing adds half a line or more), and a line this much larger than the body text is a heading.
_PDF_PARAGRAPH_GAP = 1.45
_PDF_HEADING_SIZE = 1.2


def _pdf_page_text(page) -> str:
    """A page's text with the layout a reader sees put back as light Markdown: PDF text has no paragraphs, so a
    wide vertical gap becomes a blank line, and a line in a clearly larger font a ``#`` heading."""
    lines: list[list] = [["", None, 0.0]]  # text, baseline y, font size

    def visit(text: str, cm: list, tm: list, font: dict | None, size: float) -> None:
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append(["", None, 0.0])
            if part.strip() and lines[-1][1] is None:
                lines[-1][1:] = [tm[5] * cm[3] + cm[5], size * abs(tm[3] * cm[3]) or size]
            lines[-1][0] += part

    plain = page.extract_text(visitor_text=visit) or ""
    placed = [(text.strip(), y, size) for text, y, size in lines if text.strip() and y is not None]
    if not placed:
        return plain
    sizes = sorted(size for text, _, size in placed for _ in text)
    body_size = sizes[len(sizes) // 2]  # the median character's size
    out: list[str] = []
    previous: tuple[float, float] | None = None
    for text, y, size in placed:
        heading = size > _PDF_HEADING_SIZE * body_size and len(text.split()) <= 12
        if previous is not None and (heading or previous[1] > _PDF_HEADING_SIZE * body_size
                                     or not 0 < previous[0] - y <= _PDF_PARAGRAPH_GAP * max(size, previous[1])):
            out.append("")
        out.append(f"# {text}" if heading else text)
        previous = (y, size)
    return "\n".join(out)


def _read_docx(data: bytes, name: str) -> str:
    """The document's text as light Markdown: heading styles as ``#``, list styles as ``-``, tables as rows
    (the first row as the header), paragraphs separated by blank lines."""
    _require_small_unpacked(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        # Body order keeps tables where the author put them, not appended after all paragraphs.
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                rows = [[cell.text for cell in row.cells] for row in block.rows]
                blocks.append(_markdown_table([(cells, index == 0 and len(rows) > 1) for index, cells in enumerate(rows)]))
            else:
                blocks.append(_docx_paragraph(block.text, block.style.name if block.style is not None else ""))
    except Exception as error:  # not a zip, or a zip without a Word document inside
        raise IngestError(name, f"corrupt Word document ({error})") from error
    # Consecutive list items stay one block, as a Markdown list does.
    parts: list[str] = []
    for previous, block in zip([""] + blocks, blocks):
        if parts:
            parts.append("\n" if block.startswith("- ") and previous.startswith("- ") else "\n\n")
        parts.append(block)
    return "".join(parts)


def _require_small_unpacked(data: bytes, name: str) -> None:
    """Refuse a zip archive that would unpack to more than the limits allow, from its directory alone."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise IngestError(name, f"corrupt Word document (not a zip archive: {error})") from error
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise IngestError(name, f"the archive holds {len(members):,} parts; the limit is {MAX_ARCHIVE_MEMBERS:,}")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise IngestError(name, f"unpacks to {unpacked:,} bytes; the limit is {MAX_UNPACKED_BYTES:,} bytes")


def _docx_paragraph(text: str, style: str) -> str:
    if not text.strip():
        return ""
    if style == "Title":
        return f"# {text}"
    if match := re.fullmatch(r"Heading (\d)", style):
        return "#" * int(match.group(1)) + f" {text}"
    if style.startswith("List"):
        return f"- {text}"
    return text


_READERS: dict[str, Callable[[bytes, str], str]] = {
    "txt": _read_text,
    "md": _read_text,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
}


def normalise(text: str) -> str:
    """The one text normalisation every format goes through, so equal content gives equal text."""
    # Text decoded with the wrong code page once ("FranÃ§ois", "â‚¬649") is common in exports and scraped
    # files, and learned as written the network repeats it; ftfy undoes only sequences that are far more likely
    # mojibake than real text, so correct text in any script passes unchanged.
    text = ftfy.fix_encoding(text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)  # at most one blank line in a row
    return text.strip()
