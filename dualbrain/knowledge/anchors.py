"""What a fact unit can be asked about: its anchors (names, dates, amounts, codes, field values, the phrase a
sentence closes on, the subject its heading names), and the kind of value each is.

A question can ask for any anchor of a unit, so anchors are the (fact, anchor) pairs every training view is
built from (``signals.py``), and the names a document shares with others (``document_names``). Nothing here
depends on capital letters alone: they are one cue among several.
"""

from __future__ import annotations

import re

from dualbrain.ingest.units import TextUnit, text_units

# The things a question can ask for. Written dates ("12 March 2024"); amounts and codes with a digit
# ("EUR 40", "$1,200", "12.5%", "XR-100", "xr-7b", "1987"), whatever their case; runs of capitalised words,
# optionally joined by short lowercase connectors ("Bank of Lisbon"). Capitals are one cue among several:
# a fact unit's field values, copula complements and subject heading are anchors too (see fact_anchors).
_MONTH = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"


_DATE = rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"


_CURRENCY = r"(?:[$€£¥]|(?:EUR|USD|GBP|CHF)\s)\s?"


# Short lowercase words that join the parts of a name ("Bank of Lisbon") but never end one.
_CONNECTORS = ("of", "the", "de", "la", "van", "von", "and", "for", "&")


_ENTITY = re.compile(
    rf"\b(?:{_DATE})\b"
    rf"|(?<![\w.,])(?:{_CURRENCY})?[^\W\d_]*[-/]?\d(?:[\w.,/:-]*\w)?%?"
    # A run may end on a number ("Corvex 2"), but not on the day that opens a date ("On 2 October 2025").
    rf"|\b(?:[A-Z][\w'’&-]*[\w](?:\s+(?:{'|'.join(_CONNECTORS)})\s+|\s+)?)+(?:(?<=\s)(?!{_DATE})\d[\w.-]*\b)?"
)


_YEAR = r"(?:1[6-9]|20)\d\d"


# Amounts, counts and measures ("EUR 449", "29", "8.9 kg"): what a question asks for, never what it asks about
# ("tell me about 29" is no question anyone asks), so they get no recall turn. Years and dates do ("what
# happened in 1987?").
_QUANTITY = re.compile(rf"(?!{_YEAR}$)(?:{_CURRENCY})?\d[\d,.]*%?(?:\s+[^\W\d_]+)?")


# "… is saffron yellow.": the complement of a short copular clause, in any case (not passives: "is led by").
_COPULA_COMPLEMENT = re.compile(r"\b(?:is|are|was|were)\s+(?:an?\s+|the\s+)?([^,;:.!?]+?)\s*[.!]?$")


_MAX_ANCHOR_WORDS = 5


# Complements that are passives, not properties: "is led by", "was born in".
_PARTICIPLES = {"born", "run", "led", "made", "built", "held", "kept", "sold", "known", "said", "shown", "seen", "given"}


# Capitalised only because they start a sentence or are generic; never entities on their own.
_NOT_ENTITIES = {
    "a", "an", "the", "in", "on", "at", "by", "for", "from", "to", "of", "and", "but", "or", "as", "it",
    "its", "this", "that", "these", "those", "there", "their", "they", "we", "our", "you", "your", "he",
    "she", "his", "her", "every", "each", "all", "after", "before", "since", "when", "while", "with",
    "during", "if", "no", "not", "yes", "also", "both", "most", "some", "many", "one", "dear", "note",
    "i", "mr", "ms", "dr", "its", "what", "who", "which", "where",
}


def fact_units(text: str) -> list[TextUnit]:
    """The units of ``text`` that can carry a fact: every sentence, item, field and row of two words or more."""
    return [unit for unit in text_units(text) if len(unit.in_context().split()) >= 2]


def fact_texts(text: str) -> list[str]:
    """Each fact unit of ``text`` as it is learned: in its context, markup stripped, soft breaks joined."""
    return [unit.in_context() for unit in fact_units(text)]


def find_entities(sentence: str) -> list[str]:
    """Named things, dates, amounts and codes in ``sentence`` (deduplicated, in order of appearance)."""
    found: list[str] = []
    for match in _ENTITY.finditer(sentence):
        entity = match.group(0).strip(" .,;:'’")
        words = entity.split()
        while words and words[0].lower() in _NOT_ENTITIES:  # "Every Friday" → "Friday"
            words.pop(0)
        while words and words[-1].lower() in _CONNECTORS:  # "Huthkan Vaixthon and (has …)"
            words.pop()
        entity = re.sub(r"'s$|’s$", "", " ".join(words))
        if len(entity) < 2 and not entity.isdigit() or entity in found:
            continue
        found.append(entity)
    return found


def fact_anchors(unit: TextUnit, names: set[str] = frozenset()) -> list[str]:
    """What a question about ``unit`` can ask for, none of which needs a capital letter: its dates, amounts,
    codes and named things; the values of its fields, table cells and ``key: value`` items; the complement of
    a short copular clause ("… is saffron yellow") or else the phrase a sentence closes on. A lone capitalised
    word that opens a sentence or field ("Staff get …", "Weight: …") is a name only if the document also
    writes it capitalised elsewhere (``names``).

    Only what the unit's own text says is asked for: the subject heading put in front of it is the answer of
    the unit's "tell me about" (see :func:`subject_anchors`), and asking for it from each of a datasheet's
    fields cost 40% of the cloze and question examples on the varied corpus. A unit that names nothing of its
    own is asked for its subject. An anchor inside a longer one ("8.9" in "8.9 kg") is asked for as the longer.
    """
    text = unit.text
    values = [part.split(": ", 1)[1] for part in text.split("; ") if ": " in part] if unit.kind != "sentence" else []
    openers = {text.split()[0].strip(":,")} if text.split() else set()
    if values:  # a field's key names the attribute, not a thing: its words are never anchors
        openers |= set(text.split(": ", 1)[0].split())
    anchors = [entity for entity in find_entities(text) if " " in entity or entity not in openers or entity in names
               or any(ch.isdigit() for ch in entity)]
    worded = []
    complement = _COPULA_COMPLEMENT.search(text) if unit.kind == "sentence" else None
    if complement and complement.group(1).split()[0].lower() not in _PARTICIPLES and not complement.group(1).split()[0].endswith("ed"):
        worded.append(complement.group(1))
    if unit.kind == "sentence" and not worded and not any(anchor in text for anchor in anchors):
        worded.append(_closing_phrase(text))  # "… receives free lunches."
    for candidate, is_value in [(c, True) for c in values] + [(c, False) for c in worded]:
        candidate = candidate.strip(" .,;:")
        if not candidate or len(candidate.split()) > _MAX_ANCHOR_WORDS or any(candidate in anchor for anchor in anchors):
            continue
        # A worded phrase that holds an anchor asks for nothing new ("now EUR 679"); a value that holds one
        # is the whole answer ("8.9 kg" around "8.9").
        if is_value or not any(anchor in candidate for anchor in anchors):
            anchors.append(candidate)
    return _outermost(anchors) or subject_anchors(unit)


def subject_anchors(unit: TextUnit) -> list[str]:
    """What the headings in front of ``unit`` name, in any case: "Datasheet: Corvex C2" → "Corvex C2",
    "acme pumps staff handbook" → itself (not also "acme pumps"). Asked "tell me about" one of them, the unit is part of the answer."""
    subjects = []
    for heading in unit.headings_in_front():
        named = [entity for entity in find_entities(heading) if " " in entity or any(ch.isdigit() for ch in entity)]
        for candidate in named + [part for part in heading.split(": ") if len(part.split()) > 1]:
            candidate = candidate.strip(" .,;:")
            if len(candidate.split()) <= _MAX_ANCHOR_WORDS and candidate not in subjects:
                subjects.append(candidate)
    return _outermost(subjects)


def _outermost(anchors: list[str]) -> list[str]:
    """``anchors`` without those inside a longer one: "8.9 kg", not also "8.9"; "corvex c2", not also "c2"."""
    return [anchor for anchor in anchors if not any(anchor != other and anchor in other for other in anchors)]


def _closing_phrase(sentence: str) -> str:
    """The words that close ``sentence`` after its last function word, at most three: what a sentence with no
    name, number or code in it usually ends on (its object)."""
    words = sentence.rstrip(".!?").split()
    phrase: list[str] = []
    for word in reversed(words):
        if word.lower() in _NOT_ENTITIES or word.lower() in _CONNECTORS or len(phrase) == 3:
            break
        phrase.insert(0, word)
    return " ".join(phrase) if len(phrase) < len(words) else ""


def document_capitalised_names(units: list[TextUnit]) -> set[str]:
    """Words a document writes capitalised where no sentence starts: names, whatever opens a sentence."""
    return {word for unit in units for word in re.findall(r"(?<=[\w,;)] )[A-Z][\w'’-]+", unit.text)}


def document_names(text: str) -> set[str]:
    """The multi-word names of a document (people, organisations, places): what documents about the same
    things share. Single capitalised words are left out: "Friday" or "Board" would tie unrelated documents."""
    return {entity for sentence in fact_texts(text) for entity in find_entities(sentence) if " " in entity}


def fact_pairs(text: str) -> list[tuple[str, str]]:
    """Every (fact, anchor) pair of ``text``: one fact unit in its context, and one thing a question about it
    can ask for."""
    units = fact_units(text)
    names = document_capitalised_names(units)
    return [(unit.in_context(), anchor) for unit in units for anchor in fact_anchors(unit, names)]


def subject_pairs(text: str) -> list[tuple[str, str]]:
    """Every (fact, subject) pair of ``text``: a fact unit in its context, and a thing its heading names."""
    return [(unit.in_context(), subject) for unit in fact_units(text) for subject in subject_anchors(unit)]


def named_things(fact: str) -> list[str]:
    """The things ``fact`` names that a question can be about (see :func:`names_a_thing`)."""
    return [entity for entity in find_entities(fact) if names_a_thing(entity)]


def names_a_thing(entity: str) -> bool:
    """A name of two words or more ("Bank of Lisbon") or a code ("XR-100", "c2"): what a question can be about,
    unlike a date, an amount or a single word that may be a common one."""
    has_letter, has_digit = re.search(r"[^\W\d_]", entity), re.search(r"\d", entity)
    return bool(has_letter and (has_digit or " " in entity)) and not is_quantity(entity) and not re.fullmatch(_DATE, entity)


def is_quantity(entity: str) -> bool:
    """Whether ``entity`` is a number, an amount or a measure ("29", "EUR 40", "8.9 kg"), not a year."""
    return bool(_QUANTITY.fullmatch(entity))


def value_kind(entity: str) -> str:
    """What kind of value ``entity`` is: "year", "date", "amount" ("EUR 40"), "count" ("29"), "measure"
    ("8.9 kg"), "code" ("XR-100") or "name" (anything else: people, places, things, lowercase terms)."""
    if re.fullmatch(_YEAR, entity):
        return "year"
    if re.fullmatch(_DATE, entity):
        return "date"
    if re.fullmatch(rf"{_CURRENCY}\d.*", entity):
        return "amount"
    if re.fullmatch(r"\d[\d,.]*", entity):
        return "count"
    if _QUANTITY.fullmatch(entity):
        return "measure"
    return "code" if re.search(r"\d", entity) else "name"
