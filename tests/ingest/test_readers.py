"""Ingest readers: every supported format yields normalised text; every bad input a clear IngestError."""

import hashlib
import io
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from dualbrain.errors import IngestError
from dualbrain.ingest import SUPPORTED_SUFFIXES, collect_files, extract
from dualbrain.ingest import readers
from dualbrain.ingest.readers import normalise


def make_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF with a real text layer (Helvetica), xref offsets computed."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def reason_for(path: Path, **kwargs) -> str:
    with pytest.raises(IngestError) as caught:
        extract(path, **kwargs)
    assert caught.value.source == path.name
    return caught.value.reason


# --- supported formats -------------------------------------------------------------------------------


def test_txt_is_normalised(tmp_path):
    raw = "\ufeffCafe\u0301 menu  \r\nline two\t\r\n\n\n\n\nlast\rline\n\n"
    doc = extract(write(tmp_path / "notes.txt", raw.encode("utf-8")))
    assert doc.format == "txt"
    assert doc.text == "Caf\u00e9 menu\nline two\n\nlast\nline"


def test_markdown_kept_as_is(tmp_path):
    source = "# Title\n\n- item *one*\n- item two\n"
    for name in ("readme.md", "guide.markdown"):
        doc = extract(write(tmp_path / name, source))
        assert doc.format == "md"
        assert doc.text == source.strip()


def test_html_drops_scripts_and_styles_and_breaks_blocks(tmp_path):
    html = """<!DOCTYPE html><html><head><title>Page title</title><style>p {color: red}</style></head>
    <body><script>var secret = 1;</script><noscript>enable js</noscript><!-- a comment -->
      <h1>Acme   policies</h1>
      <p>Refunds take
         <b>14 days</b>.</p><div>Second<br>line</div>
      <ul><li>one</li><li>two</li></ul>
    </body></html>"""
    for name in ("page.html", "page.htm"):
        doc = extract(write(tmp_path / name, html))
        assert doc.format == "html"
        # Light Markdown: the heading and list items keep their marks, so every format cuts into the same units.
        assert doc.text == "# Acme policies\n\nRefunds take 14 days.\n\nSecond\nline\n\n- one\n\n- two"


def test_pdf_text_layer_is_extracted(tmp_path):
    data = make_pdf("Hello Acme")
    assert "Hello Acme" in PdfReader(io.BytesIO(data)).pages[0].extract_text()  # the fixture itself is valid
    doc = extract(write(tmp_path / "report.PDF", data))
    assert doc.format == "pdf"
    assert doc.text == "Hello Acme"


def test_docx_paragraphs_and_tables_in_order_as_light_markdown(tmp_path):
    document = docx.Document()
    document.add_paragraph("Intro paragraph")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Plan"
    table.cell(0, 1).text = "Price 10 EUR"
    document.add_paragraph("Closing paragraph")
    path = tmp_path / "contract.docx"
    document.save(path)
    doc = extract(path)
    assert doc.format == "docx"
    assert doc.text == "Intro paragraph\n\n| Plan | Price 10 EUR |\n\nClosing paragraph"


def test_metadata_hash_size_and_base_name(tmp_path):
    data = "Some knowledge.\n".encode("utf-8")
    path = write(tmp_path / "deep" / "folder" / "facts.txt", data)
    doc = extract(path)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.size_bytes == len(data)
    assert doc.source_name == "facts.txt"


def test_normalise_collapses_blank_lines_and_trailing_spaces():
    assert normalise("  a  \n\n\n\nb \r\n\r\nc  ") == "a\n\nb\n\nc"



def test_normalise_repairs_mojibake_and_leaves_correct_text_in_any_script_alone():
    # UTF-8 read once as cp1252 or cp1250 (NarrativeQA's own text has "FranĂ§ois"), then saved as UTF-8 again.
    assert normalise("FranÃ§ois and Perrault, naÃ¯ve cafÃ©") == "François and Perrault, naïve café"
    assert normalise("FranĂ§ois") == "François"
    assert normalise("The price is â‚¬649.") == "The price is €649."
    for text in ("Zürich, Straße, résumé", "Ä‚ and ‚quoted‘", "Москва", "東京都", "العربية", "“smart” quotes"):
        assert normalise(text) == text

# --- bad inputs --------------------------------------------------------------------------------------


def test_unsupported_suffix(tmp_path):
    assert "unsupported file type '.exe'" in reason_for(write(tmp_path / "setup.exe", b"MZ\x00"))


@pytest.mark.parametrize("suffix", [".txt", ".pdf", ".docx"])
def test_empty_file(tmp_path, suffix):
    assert reason_for(write(tmp_path / f"empty{suffix}", b"")) == "empty file"


def test_whitespace_only_file(tmp_path):
    assert "no text" in reason_for(write(tmp_path / "blank.md", " \n\t\r\n  \n"))


def test_html_without_visible_text(tmp_path):
    assert "no text" in reason_for(write(tmp_path / "app.html", "<html><script>run()</script></html>"))


def test_pdf_without_text_layer(tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "scanned PDF" in reason_for(write(tmp_path / "scan.pdf", buffer.getvalue()))


def test_encrypted_pdf(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Secret"))))
    writer.encrypt(user_password="pw", algorithm="RC4-128")  # RC4 needs no optional crypto library
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "encrypted PDF" in reason_for(write(tmp_path / "locked.pdf", buffer.getvalue()))


def test_corrupt_pdf(tmp_path):
    garbage = bytes(range(256)) * 8
    assert reason_for(write(tmp_path / "broken.pdf", garbage)).startswith("corrupt PDF")


def test_corrupt_docx(tmp_path):
    assert reason_for(write(tmp_path / "fake.docx", "just text")).startswith("corrupt Word document")


def make_docx(text: str, extra_parts: dict[str, bytes] | None = None) -> bytes:
    """A real Word document holding ``text``, with ``extra_parts`` (zip member name → content) added."""
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (extra_parts or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_docx_that_unpacks_too_large_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 1 << 20)
    bomb = make_docx("Hello.", {"word/media/padding.bin": bytes(4 << 20)})  # 4 MB of zeros: a few KB zipped
    assert len(bomb) < 64 << 10
    unpacked = []
    monkeypatch.setattr(readers.docx, "Document", lambda *args: unpacked.append(args))
    reason = reason_for(write(tmp_path / "bomb.docx", bomb))
    assert reason.startswith("unpacks to ") and "the limit is 1,048,576 bytes" in reason
    assert not unpacked  # refused from the archive's directory: the Word reader never ran


def test_docx_with_too_many_parts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_ARCHIVE_MEMBERS", 20)
    many = make_docx("Hello.", {f"word/extra/part{i}.xml": b"<a/>" for i in range(20)})
    assert "the limit is 20" in reason_for(write(tmp_path / "many.docx", many))
    assert extract(write(tmp_path / "few.docx", make_docx("Hello."))).text == "Hello."  # within the limits


def test_a_parser_failure_in_any_reader_is_that_files_problem(tmp_path, monkeypatch):
    def choke(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(readers, "BeautifulSoup", choke)
    reason = reason_for(write(tmp_path / "deep.html", "<div>" * 10 + "text"))
    assert reason == "cannot read this html file (RecursionError: maximum recursion depth exceeded)"


def test_binary_txt(tmp_path):
    assert "binary" in reason_for(write(tmp_path / "blob.txt", b"abc\x00\x01\x02def"))


def test_non_utf8_txt(tmp_path):
    assert "not valid UTF-8" in reason_for(write(tmp_path / "latin1.txt", "caf\u00e9".encode("latin-1")))


def test_too_large_checked_before_reading(tmp_path):
    path = write(tmp_path / "big.txt", "x" * 100)
    assert "too large" in reason_for(path, max_bytes=10)
    assert extract(path, max_bytes=100).size_bytes == 100  # the limit itself is allowed


def test_unreadable_path(tmp_path):
    assert "cannot read" in reason_for(tmp_path / "gone.txt")


# --- collect_files -----------------------------------------------------------------------------------


def test_collect_expands_folders_sorted_and_reports_problems(tmp_path):
    root = tmp_path / "docs"
    for relative in ("b.md", "a.txt", "sub/z.pdf", "sub/deeper/c.docx", "sub/page.HTML"):
        write(root / relative, "x")
    write(root / ".hidden.txt", "x")
    write(root / ".git" / "config.txt", "x")
    write(root / "sub" / "tool.exe", "x")
    single = write(tmp_path / "single.txt", "x")
    missing = tmp_path / "nope.txt"
    loose_exe = write(tmp_path / "run.exe", "x")

    files, problems = collect_files([root, single, missing, loose_exe])

    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "docs/a.txt",
        "docs/b.md",
        "docs/sub/page.HTML",
        "docs/sub/z.pdf",
        "docs/sub/deeper/c.docx",
        "single.txt",
    ]
    assert [(Path(p.source).name, p.reason.split(";")[0]) for p in problems] == [
        ("tool.exe", "unsupported file type '.exe'"),
        ("nope.txt", "no such file or folder"),
        ("run.exe", "unsupported file type '.exe'"),
    ]


def test_collect_is_deterministic_and_never_raises(tmp_path):
    write(tmp_path / "one.txt", "x")
    assert collect_files([tmp_path]) == collect_files([tmp_path])
    files, problems = collect_files([])
    assert files == [] and problems == []
    assert len(collect_files([tmp_path / "missing-folder"])[1]) == 1


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
