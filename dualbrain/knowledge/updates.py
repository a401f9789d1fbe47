"""Facts a newer document changes: the knowledge network learns the corpus as it stands now.

A memo that says "The price of the Corvex C2 is now EUR 679." does not delete the datasheet that still says
"Price: EUR 649". Learned side by side, both values are trained and the network answers either. So before
any training view is made, each older document is read *as of now*: where a later document (later in the
order documents were added) restates one of its facts with another value, the older text is learned with the
newer value. The stored document is untouched, and forgetting the memo brings the old value back, because
the shard is rebuilt from what remains.

A newer unit restates an older one when, read with their headings (``TextUnit.in_context``):

* they name the same thing (a name of two words or more, or a code: "Corvex C2", "Acme Pumps"), other than the
  value that gives way;
* every attribute word of the older unit (its content words, not those of its anchors) is in the newer one
  ("price" ⊆ "the price of … is now"; "chief executive" ⊆ "… succeeds … as chief executive of …"): a unit
  about *staff*'s leave is not restated by one about *contractors*' leave;
* the newer unit has a value of the same kind (a person or other name, amount, count, measure, date, year,
  code) that the older one lacks, and the older unit has exactly one value of that kind to give way. A name
  the corpus mentions everywhere is what the facts are about, not a value: where two names could give way
  ("Jane Roe" and "Acme Pumps" in "Acme Pumps' chief executive is Jane Roe"), the one named in fewer units does.

Only what both documents say is compared; nothing depends on how the newer one words the change ("now",
"succeeds", "replaces" …). The documents compared are those learned together, in one shard: a memo learned
into a later shard does not yet retrain the older shard that states the old value.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from dualbrain.ingest.units import RELATIVE_CLAUSE_START, TextUnit, content_words
from dualbrain.knowledge.anchors import document_capitalised_names, fact_anchors, fact_units, named_things, value_kind


@dataclass(frozen=True)
class ChangedValue:
    """A value an older document states that a newer one changes."""

    document_id: str  # the older document
    unit: str  # the older unit's own text (no headings)
    old: str
    new: str
    by: str  # the newer document


def changed_values(documents: list[tuple[str, str]]) -> list[ChangedValue]:
    """Every value of ``documents`` (id and text, oldest first) that a later one of them restates differently."""
    read = [(doc_id, _facts(text)) for doc_id, text in documents]
    mentions = Counter(thing for _, facts in read for things in {fact.unit: fact.things for fact in facts}.values() for thing in things)
    changes = []
    for index, (doc_id, facts) in enumerate(read):
        for older in facts:
            for later_id, later_facts in read[index + 1 :]:
                for newer in later_facts:
                    change = _restated(older, newer, mentions)
                    if change is not None:
                        changes.append(ChangedValue(doc_id, older.unit.text, *change, by=later_id))
    # The newest restatement wins: later documents come last, so keep the last change of each (unit, value).
    return list({(change.document_id, change.unit, change.old): change for change in changes}.values())


def as_of_now(documents: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``documents`` (id and text, oldest first), each older one with the values later ones change replaced."""
    changes = changed_values(documents)
    return [(doc_id, _rewrite(text, [c for c in changes if c.document_id == doc_id])) for doc_id, text in documents]


@dataclass(frozen=True)
class _Fact:
    unit: TextUnit
    things: frozenset[str]  # the names and codes it holds, with its headings
    values: tuple[str, ...]  # what a question about it asks for
    attribute: frozenset[str]  # what it says of its things, as words: its own content words but its values'


def _facts(text: str) -> list[_Fact]:
    """The facts of ``text`` to compare: each sentence, and each ``key: value`` part of a field or table row
    (a row holds a product's every attribute; a memo changes one of them)."""
    units = fact_units(text)
    names = document_capitalised_names(units)
    facts = []
    for unit in units:
        things = frozenset(named_things(unit.in_context()))
        thing_words = set().union(*map(content_words, things))
        parts = [part.split(": ", 1) for part in unit.text.split("; ") if ": " in part] if unit.kind != "sentence" else []
        if parts:
            # A key names its attribute by its last word: "List price" and "Price" are both a price.
            facts += [_Fact(unit, things, (value,), frozenset(content_words(key.split()[-1]))) for key, value in parts]
        else:
            values = tuple(fact_anchors(unit, names))
            value_words = set().union(*map(content_words, values))
            facts.append(_Fact(unit, things, values, frozenset(content_words(unit.text) - value_words - thing_words)))
    return facts


def _restated(older: _Fact, newer: _Fact, mentions: Counter) -> tuple[str, str] | None:
    """(old value, new value) if ``newer`` restates ``older`` with another value, else None."""
    shared = _folded(older.things) & _folded(newer.things)  # a heading in capitals names the same thing
    if not shared or not older.attribute or not older.attribute <= newer.attribute:
        return None
    for new in newer.values:
        if new in older.unit.in_context():
            continue
        giving_way = [old for old in older.values if value_kind(old) == value_kind(new)]
        if len(giving_way) > 1:  # the thing the facts are about is named in more units than a value of it
            fewest = min(mentions[old] for old in giving_way)
            giving_way = [old for old in giving_way if mentions[old] == fewest]
        # The two units must still share a thing once the value goes: "Acme Pumps was founded in 1983." is not
        # restated by "Jane Roe founded Acme Pumps in 1983." — Acme Pumps is what both are about, not a value.
        if len(giving_way) == 1 and shared - _folded([giving_way[0]]):
            return giving_way[0], new
    return None


def _folded(names) -> set[str]:
    return {name.casefold() for name in names}


def _rewrite(text: str, changes: list[ChangedValue]) -> str:
    """``text`` with each change's old value replaced by its new one, in the unit that states it.

    Units are joined from wrapped lines and stripped of markup, so the unit is found by its words with
    anything between them; a table row's unit names its columns, which the row itself does not, so a value
    the unit cannot be found for is replaced only where the document states it once."""
    for change in changes:
        value = re.compile(r"\s+".join(map(re.escape, change.old.split())))
        words = re.findall(r"\w+", change.unit)
        unit = re.search(r"[\W_]+".join(map(re.escape, words)), text) if words else None
        found = value.search(text, unit.start(), unit.end()) if unit is not None else None
        if found is None:
            occurrences = list(value.finditer(text))
            found = occurrences[0] if len(occurrences) == 1 else None
        if found is None:
            continue
        # "… is Jane Roe, who was born in Lisbon." is two units, and the clause stays with the old value:
        # "… is John Doe. Jane Roe was born in Lisbon.", never the new one's birthplace.
        if clause := RELATIVE_CLAUSE_START.match(text, found.end()):
            text = f"{text[: found.start()]}{change.new}. {change.old} {text[clause.end() :]}"
        else:
            text = text[: found.start()] + change.new + text[found.end() :]
    return text
