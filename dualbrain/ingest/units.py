"""Cut normalised document text into fact units that carry their context: one rule for the whole project.

Readers hand over light Markdown (``#`` headings, ``-`` list items, ``|`` table rows, blank lines between
paragraphs), whatever the file format was. This module turns it into :class:`TextUnit` s, the places where
training views, training passages and retrieval passages are all cut, so a fact is never split one way
for learning and another way for retrieval:

* **soft line breaks are joined.** Real files are hard-wrapped (plain-text mail, wrapped Markdown, every
  PDF extraction): lines of one paragraph, list item or ``key: value`` value are one text, and a word
  hyphenated across a line end is one word again. Sentences are then split inside the joined text.
* **structure is kept.** A list item, a table row (each cell named by its column header) and a
  ``key: value`` line is a unit of its own, however short ("Part number: XR-100").
* **headings are context, not facts.** A unit knows the headings it stands under (an FAQ's question
  counts as one for the answer below it); :meth:`TextUnit.in_context` puts the ones it does not mention in
  front of it, so "Part number XR-100." under "Datasheet: Corvex C2" is a fact about the Corvex C2.
* **a fact about a fact's value is a unit of its own.** "Its chief executive is Jane Roe, who was born in
  Lisbon." is two facts, "Its chief executive is Jane Roe." and "Jane Roe was born in Lisbon.": learned and
  compared apart, so a memo that changes the chief executive does not move the birthplace with the role.
* **markup never reaches a unit**: emphasis, inline code, link targets, quote markers and table pipes go.

Nothing here depends on capital letters: headings, items, fields and wrapping are recognised from line
structure and punctuation alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_ATX_LINE = re.compile(r"^[ \t]*(#{1,6}[ \t].*)$", re.MULTILINE)
_SETEXT_UNDERLINE = re.compile(r"^(=+|-{3,})\s*$")
_BULLETS = "-*+•▪◦‣"
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-z][.)])\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
# "Key: value" with a short key (at most five words, no sentence punctuation), as in datasheets and mail headers.
_FIELD = re.compile(r"^([^:.!?|]{1,48}?)\s*:\s+(\S.*)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[^\s\"'“‘(\[a-z])")
_ABBREVIATION_END = re.compile(
    r"\b(?:Dr|Mr|Mrs|Ms|Prof|St|Mt|No|Inc|Ltd|Co|Corp|Jr|Sr|vs|etc|e\.g|i\.e|approx|ca|dept|est|fig|incl|max|min|nr|ref)\.$",
    re.IGNORECASE,
)
# A non-restrictive relative clause about a person: ", who leads the group". Not ", which …": that may be
# about the whole clause before it ("… in the northern valleys, which is a lot").
RELATIVE_CLAUSE_START = re.compile(r",\s+who\s+")
# Words after which a relative clause's antecedent starts ("… is | Jane Roe, who …", "… by | Dr. Ilse Varga, who …").
# Not "of" or "and": "the head of Acme, who" and "Ann and Bo, who" are about the whole phrase.
_LINK_WORDS = frozenset("is was are were be been by to in at from with as for on than named called".split())
_FAQ_MARK = re.compile(r"^(?:Q|A|Question|Answer)\s*:\s*", re.IGNORECASE)
# A line ending in one of these is text, never a heading or a label.
_CLOSING_PUNCTUATION = (".", "!", "?", ",", ";")
_HYPHENATED_END = re.compile(r"(\w)-$")
_INLINE_MARKUP = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code
    (re.compile(r"<[^>\n]+>"), ""),  # stray HTML tags in Markdown
)
# Words that say nothing of what a text is about ("the", "which" …): anything of three letters or digits or
# more, in any script, that is not listed here is a content word.
_COMMON_WORDS = frozenset(
    "the and for are was were has have had with from that this these those its their our your not but all any "
    "who what which when where how why can may will one two per each also into onto about over under than then "
    "there been only every does would now his her she they them you".split()
)
_WORD = re.compile(r"[^\W_]{3,}")


@dataclass(frozen=True)
class TextUnit:
    """One fact-bearing piece of a document: a sentence, list item, ``key: value`` field or table row."""

    text: str  # plain text, markup stripped, soft line breaks joined
    kind: str  # "sentence" | "item" | "field" | "row"
    context: tuple[str, ...] = ()  # the headings it stands under, outermost first

    def in_context(self) -> str:
        """The unit, with the document's title and its nearest heading in front where it does not name them.

        A heading is put in front when the unit holds fewer than half of its words: "Datasheet: Corvex C2 —
        Part number: XR-100", "Acme Pumps staff handbook — Staff get 30 days of paid leave" (sharing "staff"
        does not name the company). A one-word heading ("Overview", "History") says little about a
        sentence, so it is put only before fields, rows and short items, which have no subject of their own.
        """
        return " — ".join([*self.headings_in_front(), self.text])

    def headings_in_front(self) -> list[str]:
        """The headings :meth:`in_context` puts in front of the unit (none when it names them itself)."""
        own = content_words(self.text)
        shown = []
        for heading in dict.fromkeys(self.context[:1] + self.context[-1:]):
            words = content_words(heading)
            if 2 * len(words & own) < len(words) and (len(words) > 1 or not self._is_sentence()):
                shown.append(heading)
        return shown

    def _is_sentence(self) -> bool:
        """A sentence, or an item written as one ("- The plant opened in 1983.")."""
        return self.kind == "sentence" or (self.kind == "item" and self.text.endswith((".", "!", "?")))


def text_units(text: str) -> list[TextUnit]:
    """Every unit of ``text`` (light Markdown, as the readers write it), in document order."""
    units: list[TextUnit] = []
    headings: list[tuple[int, str]] = []  # (level, text) of the headings in force
    question: str | None = None  # an FAQ question in force, until the next heading or question
    # A Markdown heading needs no blank line around it ("## History" right above "- Founded in 1983.").
    text = _ATX_LINE.sub(lambda match: f"\n\n{match.group(1)}\n\n", text)
    blocks = [block.split("\n") for block in re.split(r"\n\s*\n", text)]
    for index, lines in enumerate(blocks):
        lines = [line for line in lines if line.strip()]
        if not lines:
            continue
        has_next = index + 1 < len(blocks)
        lone = clean_inline(lines[0]) if len(lines) == 1 else ""
        if has_next and lone.endswith("?") and len(lone.split()) <= 20:
            question = _FAQ_MARK.sub("", lone)  # an FAQ question standing alone above its answer
            continue
        first_block = not units and not headings
        heading, body, label = _heading(lines, first_block, has_next), lines, ()
        if heading is not None:
            level, heading_text = heading
            headings = [(lv, h) for lv, h in headings if lv < level] + [(level, heading_text)]
            question, body = None, []
        elif len(lines) > 1 and _is_label_line(lines[0], lines[1]):
            label, body = (clean_inline(lines[0]).rstrip(":"),), lines[1:]  # "INTERNAL MEMO" above its "From: …" lines
        context = tuple(h for _, h in headings) + label
        for kind, piece in _block_pieces(body):
            if kind == "question":
                question = piece
                continue
            scope = context + ((question,) if question else ())
            parts = [fact for sentence in _split_sentences(piece) for fact in _split_relative_clause(sentence)] if kind == "sentence" else [piece]
            units.extend(TextUnit(part, kind, scope) for part in parts)
    return units


def _heading(lines: list[str], first_block: bool, has_next: bool) -> tuple[int, str] | None:
    """(level, text) when the block is a heading: Markdown ``#`` or underlined, or — in text without markup —
    one short line without closing punctuation that stands alone before more text."""
    if len(lines) == 1 and (match := _ATX_HEADING.match(lines[0].strip())):
        return len(match.group(1)), clean_inline(match.group(2))
    if len(lines) == 2 and _SETEXT_UNDERLINE.match(lines[1].strip()):
        return (1 if lines[1].strip()[0] == "=" else 2), clean_inline(lines[0])
    if len(lines) != 1 or not has_next:
        return None
    line = lines[0].strip()
    if _LIST_ITEM.match(line) or line.startswith("|") or line.endswith(_CLOSING_PUNCTUATION):
        return None
    if len(line.split()) > 10:
        return None
    # A lone "Key: value" line is a field, except as a document's first line ("Datasheet: Corvex C2").
    if _FIELD.match(line) and not first_block:
        return None
    return 7, clean_inline(line.rstrip(":"))  # below every Markdown level: it scopes until the next heading


def _is_label_line(line: str, next_line: str) -> bool:
    """Whether a block's first line labels the structured lines below it: a short plain line without closing
    punctuation above fields, bulleted items or rows ("INTERNAL MEMO" above "From: …"), or above numbered
    items when it ends with a colon ("Steps:" above "1. …")."""
    line, next_line = line.strip(), next_line.strip()
    if _FIELD.match(line) or _LIST_ITEM.match(line) or "|" in line or len(line.split()) > 6:
        return False
    if line.endswith(_CLOSING_PUNCTUATION):
        return False
    bulleted = bool(_LIST_ITEM.match(next_line)) and next_line[0] in _BULLETS
    numbered = bool(_LIST_ITEM.match(next_line)) and line.endswith(":")
    return bulleted or numbered or bool(_FIELD.match(next_line)) or next_line.startswith("|")


def _block_pieces(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, text) of a block's items, fields, table rows, FAQ questions and joined prose, in order."""
    pieces: list[tuple[str, list[str]]] = []
    header: list[str] | None = None
    for raw in lines:
        line = raw.strip().lstrip(">").strip()
        if not line:
            continue
        if _TABLE_SEPARATOR.match(line) and "-" in line:
            if pieces and pieces[-1][0] == "row":  # the row above was the header
                header = _cells(pieces.pop()[1][0])
            continue
        if line.startswith("|") or line.count("|") >= 2:
            pieces.append(("row", [line]))
            continue
        previous = pieces[-1] if pieces else None
        # Bullets always start an item; a number or a "key:" at a line start may be a wrapped sentence's
        # middle ("… employs" / "430. It …"), so those count only where a structured line can start.
        structured_start = previous is None or previous[0] != "sentence" or len(previous[1][-1].split()) < 4
        if (item := _LIST_ITEM.match(line)) and (line[0] in _BULLETS or structured_start):
            pieces.append(("item", [item.group(1)]))
            continue
        if (field := _FIELD.match(line)) and len(field.group(1).split()) <= 5 and structured_start:
            pieces.append(("field", [line]))
            continue
        if previous is not None and previous[0] != "row" and not _ends_question(previous):
            previous[1].append(line)  # a wrapped continuation of the piece above
        else:
            pieces.append(("sentence", [line]))
    result = []
    for kind, parts in pieces:
        text = _row_text(_cells(parts[0]), header) if kind == "row" else clean_inline(_join_wrapped(parts))
        if kind in ("sentence", "field") and text.endswith("?") and len(_split_sentences(text)) == 1 and len(pieces) > 1:
            kind, text = "question", _FAQ_MARK.sub("", text)  # an FAQ question: the context of the answer below it
        elif kind == "field" and result and result[-1][0] == "question" and _FAQ_MARK.match(text):
            kind, text = "sentence", _FAQ_MARK.sub("", text)  # "A: Staff get 30 days …" is the answer itself
        if text:
            result.append((kind, text))
    return result


def _ends_question(piece: tuple[str, list[str]]) -> bool:
    return piece[0] == "sentence" and piece[1][-1].rstrip("*_ ").endswith("?")


def _join_wrapped(lines: list[str]) -> str:
    """One text from a wrapped paragraph's lines; a word hyphenated across a line end is joined."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif _HYPHENATED_END.search(text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text


def _split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if not part:
            continue
        if parts and _ABBREVIATION_END.search(parts[-1]):
            parts[-1] += " " + part  # "Dr." ends a title, not the sentence
        else:
            parts.append(part)
    return parts


def _split_relative_clause(sentence: str) -> list[str]:
    """A sentence whose last clause is a non-restrictive relative clause as two facts, the clause restated
    about its antecedent: "Its chief executive is Jane Roe, who was born in Lisbon." → "Its chief executive is
    Jane Roe." and "Jane Roe was born in Lisbon.". The antecedent is the phrase after the last link word (at
    most five words); a clause in the middle of a sentence, or after a longer phrase, is left as it is."""
    starts = [match for match in RELATIVE_CLAUSE_START.finditer(sentence) if not re.search(r"[,;]", sentence[match.end() :])]
    if not starts:
        return [sentence]
    main, clause = sentence[: starts[-1].start()], sentence[starts[-1].end() :].rstrip(".!?")
    end = sentence[-1] if sentence[-1] in ".!?" else "."
    words = main.split()
    links = [index for index, word in enumerate(words) if word.lower() in _LINK_WORDS]
    antecedent = words[links[-1] + 1 :] if links else words
    if not antecedent or len(antecedent) > 5 or not clause:
        return [sentence]
    subject = " ".join(antecedent)
    restated = f"{subject[0].upper()}{subject[1:]} {clause}{end}"
    return [restated] if not links else [main + end, restated]


def _cells(line: str) -> list[str]:
    return [clean_inline(cell) for cell in line.strip().strip("|").split("|")]


def _row_text(cells: list[str], header: list[str] | None) -> str:
    """A table row as text: each cell named by its column ("Model: C2; Price: 40 EUR"), or cells joined.
    A two-column table lists properties, whatever its header says: its rows read "Weight: 2.4 kg"."""
    if len(cells) == 2 and all(cells):
        return f"{cells[0]}: {cells[1]}"
    if header and len(header) == len(cells):
        return "; ".join(f"{name}: {cell}" if name else cell for name, cell in zip(header, cells) if cell)
    return "; ".join(cell for cell in cells if cell)


def clean_inline(text: str) -> str:
    """``text`` without inline Markdown (emphasis, code, links, stray tags) and with single spaces."""
    for pattern, replacement in _INLINE_MARKUP:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def content_words(text: str) -> set[str]:
    """The words that say what ``text`` is about, lower-cased: one rule wherever units are compared (a unit
    with its heading, an older fact with a newer one, a question's attribute with another thing's facts)."""
    return {word for word in _WORD.findall(text.lower()) if word not in _COMMON_WORDS}
