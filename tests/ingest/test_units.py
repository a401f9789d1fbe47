"""One text path: fact units are the same however a document is wrapped or which format carries it."""

import io
import textwrap
from pathlib import Path

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate

from dualbrain.ingest import extract
from dualbrain.ingest.units import TextUnit, clean_inline, text_units

TITLE = "Datasheet: Corvex C2"
PROSE = [
    "The Corvex C2 is a compact irrigation pump for small farms and is assembled at our Northfield plant. "
    "Its self-priming impeller was redesigned in 2023 by Dr. Ilse Varga, who leads the hydraulics group.",
    "Each unit is tested for four hours before it leaves the plant. Spare impellers are kept in stock for "
    "ten years after the last unit is sold.",
]
FIELDS = [("Part number", "XR-100"), ("Weight", "2.4 kg"), ("Warranty", "two years")]
ITEMS = ["Runs on a single-phase supply", "Ships with a frost cover and a spare seal"]


def as_units(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(unit.kind, unit.text, unit.context) for unit in text_units(text)]


def markdown(width: int) -> str:
    prose = "\n\n".join(textwrap.fill(p, width, break_on_hyphens=False) for p in PROSE)
    fields = "\n".join(f"{key}: {value}" for key, value in FIELDS)
    items = "\n".join(textwrap.fill(item, width, initial_indent="- ", subsequent_indent="  ") for item in ITEMS)
    return f"# {TITLE}\n\n{prose}\n\n{fields}\n\n{items}\n"


EXPECTED = [
    ("sentence", "The Corvex C2 is a compact irrigation pump for small farms and is assembled at our Northfield plant.", (TITLE,)),
    ("sentence", "Its self-priming impeller was redesigned in 2023 by Dr. Ilse Varga.", (TITLE,)),
    ("sentence", "Dr. Ilse Varga leads the hydraulics group.", (TITLE,)),
    ("sentence", "Each unit is tested for four hours before it leaves the plant.", (TITLE,)),
    ("sentence", "Spare impellers are kept in stock for ten years after the last unit is sold.", (TITLE,)),
    *[("field", f"{key}: {value}", (TITLE,)) for key, value in FIELDS],
    *[("item", item, (TITLE,)) for item in ITEMS],
]


@pytest.mark.parametrize("width", [40, 60, 80])
def test_wrapping_does_not_change_the_units(width: int) -> None:
    assert as_units(markdown(width)) == EXPECTED


def test_a_plain_text_title_is_a_heading_like_a_markdown_one() -> None:
    assert as_units(markdown(60).replace(f"# {TITLE}", TITLE)) == EXPECTED


def test_words_hyphenated_across_lines_are_joined() -> None:
    assert as_units("The pump is assem-\nbled at our Northfield plant.") == [
        ("sentence", "The pump is assembled at our Northfield plant.", ())
    ]


def write_format(suffix: str, directory: Path) -> Path:
    """The datasheet written as a user's tool would write it in each format."""
    path = directory / f"datasheet{suffix}"
    if suffix in (".md", ".txt"):
        path.write_text(markdown(72) if suffix == ".md" else markdown(50).replace(f"# {TITLE}", TITLE))
    elif suffix == ".html":
        fields = "".join(f"<p>{key}: {value}</p>" for key, value in FIELDS)
        items = "".join(f"<li>{item}</li>" for item in ITEMS)
        path.write_text(f"<html><body><h1>{TITLE}</h1>{''.join(f'<p>{p}</p>' for p in PROSE)}"
                        f"<div>{fields}</div><ul>{items}</ul></body></html>")
    elif suffix == ".docx":
        document = docx.Document()
        document.add_heading(TITLE, level=1)
        for paragraph in PROSE:
            document.add_paragraph(paragraph)
        for key, value in FIELDS:
            document.add_paragraph(f"{key}: {value}")
        for item in ITEMS:
            document.add_paragraph(item, style="List Bullet")
        document.save(path)
    elif suffix == ".pdf":
        styles = getSampleStyleSheet()
        story = [Paragraph(TITLE, styles["Heading1"]), *(Paragraph(p, styles["BodyText"]) for p in PROSE),
                 *(Paragraph(f"{key}: {value}", styles["BodyText"]) for key, value in FIELDS),
                 *(Paragraph(f"- {item}", styles["BodyText"]) for item in ITEMS)]
        buffer = io.BytesIO()
        SimpleDocTemplate(buffer, pagesize=A4, invariant=1).build(story)
        path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html", ".docx", ".pdf"])
def test_every_format_gives_the_same_units(suffix: str, tmp_path: Path) -> None:
    assert as_units(extract(write_format(suffix, tmp_path)).text) == EXPECTED


def test_a_unit_that_shares_only_a_common_word_with_its_title_gets_the_title() -> None:
    text = "# Nohouvir Systems staff handbook\n\nStaff get 29 days of paid leave per year."
    assert [unit.in_context() for unit in text_units(text)] == [
        "Nohouvir Systems staff handbook — Staff get 29 days of paid leave per year."
    ]


def test_a_short_line_is_learned_about_the_heading_it_stands_under() -> None:
    units = text_units(f"{TITLE}\n\nPart number XR-100.\n\nThe Corvex C2 weighs 2.4 kg.")
    assert [unit.in_context() for unit in units] == [
        "Datasheet: Corvex C2 — Part number XR-100.", "The Corvex C2 weighs 2.4 kg."
    ]


def test_nested_headings_scope_their_units() -> None:
    text = "# Acme staff handbook\n\n## Leave\n\nPaid leave: 25 days\n\n## Parking\n\nBicycles go in shed B."
    units = text_units(text)
    assert [unit.context for unit in units] == [("Acme staff handbook", "Leave"), ("Acme staff handbook", "Parking")]
    # It names its own section but not the handbook's subject.
    assert units[0].in_context() == "Acme staff handbook — Paid leave: 25 days"
    # A one-word section name says little about a sentence; the handbook's title does.
    assert units[1].in_context() == "Acme staff handbook — Bicycles go in shed B."


def test_table_rows_name_their_cells_by_column() -> None:
    table = "| Model | Price | Weight |\n|---|---|---|\n| C2 | EUR 40 | 2.4 kg |\n| C3 | EUR 55 | 3 kg |"
    assert [unit.text for unit in text_units(table)] == [
        "Model: C2; Price: EUR 40; Weight: 2.4 kg", "Model: C3; Price: EUR 55; Weight: 3 kg"
    ]


def test_a_two_column_table_lists_properties() -> None:
    table = "| Property | Value |\n|---|---|\n| Weight | 2.4 kg |\n| Warranty | two years |"
    assert [unit.text for unit in text_units(table)] == ["Weight: 2.4 kg", "Warranty: two years"]


def test_html_and_docx_tables_come_through_as_the_same_rows(tmp_path: Path) -> None:
    rows = [("Model", "Price", "Weight"), ("C2", "EUR 40", "2.4 kg")]
    html = tmp_path / "prices.html"
    html.write_text("<table><tr><th>Model</th><th>Price</th><th>Weight</th></tr>"
                    "<tr><td>C2</td><td>EUR 40</td><td>2.4 kg</td></tr></table>")
    document = docx.Document()
    grid = document.add_table(rows=2, cols=3)
    for row, cells in zip(grid.rows, rows):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.save(tmp_path / "prices.docx")
    for path in (html, tmp_path / "prices.docx"):
        assert [unit.text for unit in text_units(extract(path).text)] == ["Model: C2; Price: EUR 40; Weight: 2.4 kg"]


def test_faq_questions_are_context_for_their_answers() -> None:
    text = "# Leave FAQ\n\n**Can I carry leave over?**\nYes, up to five days.\n\nQ: Who signs it off?\nA: Your manager."
    units = text_units(text)
    assert [(unit.text, unit.context[-1]) for unit in units] == [
        ("Yes, up to five days.", "Can I carry leave over?"), ("Your manager.", "Who signs it off?")
    ]
    assert units[0].in_context() == "Leave FAQ — Can I carry leave over? — Yes, up to five days."


def test_mail_headers_are_fields_under_the_first_line() -> None:
    units = text_units("INTERNAL MEMO\nFrom: Ottilie Brannock\nSubject: Fridays\n\nEvery Friday is for kites.")
    assert [(unit.kind, unit.text, unit.context) for unit in units] == [
        ("field", "From: Ottilie Brannock", ("INTERNAL MEMO",)),
        ("field", "Subject: Fridays", ("INTERNAL MEMO",)),
        ("sentence", "Every Friday is for kites.", ()),
    ]


def test_a_number_or_colon_at_a_wrapped_line_start_continues_the_sentence() -> None:
    text = "The plant in the north of the region employs\n430. It ships to the ports\nof the coast: north and south."
    assert [unit.text for unit in text_units(text)] == [
        "The plant in the north of the region employs 430.", "It ships to the ports of the coast: north and south."
    ]


def test_a_relative_clause_about_a_person_is_a_fact_of_its_own() -> None:
    assert [unit.text for unit in text_units("Its chief executive is Jane Roe, who was born in Lisbon.")] == [
        "Its chief executive is Jane Roe.", "Jane Roe was born in Lisbon."
    ]
    assert [unit.text for unit in text_units("Jane Roe, who leads the group.")] == ["Jane Roe leads the group."]
    # Left whole: a clause in the middle of a sentence, and one after a phrase too long to be its antecedent.
    for sentence in ("Jane Roe, who leads the group, was born in Lisbon.",
                     "It was founded by the two brothers of the first owner of the mill, who sold it."):
        assert [unit.text for unit in text_units(sentence)] == [sentence]


def test_markup_never_reaches_a_unit() -> None:
    text = "# Title\n## Range\n- Corvex *C2*\n\n> The **Corvex** C2 is *sold* by [Acme](https://acme.example) as `C2-EU`.\n\n* item _one_ here"
    for unit in text_units(text):
        assert not set(unit.text) & set("*_`#>[]()|"), unit.text
    assert clean_inline("**Who founded the company?**") == "Who founded the company?"


def test_nothing_depends_on_capital_letters() -> None:
    lower = "datasheet: corvex c2\n\npart number xr-100.\n\nweight: 2.4 kg"
    assert text_units(lower) == [
        TextUnit("part number xr-100.", "sentence", ("datasheet: corvex c2",)),
        TextUnit("weight: 2.4 kg", "field", ("datasheet: corvex c2",)),
    ]
