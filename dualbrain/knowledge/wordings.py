"""Rule-made question wordings from a relation lexicon (recipe lever (b)).

Users ask "who runs X?" of a document that says "the chief executive of X is Y". The self-study drafter (a
135M model, ``questions.py``) mostly reuses the fact's own words, and a fact is only extractable in the
wordings it was trained in (Physics of LMs 3.1). So each relation an organisation's documents commonly state
— who leads or founded it, where it is based, how many work there, what a product costs, weighs, is made of
— carries the ways people ask for it: a fact unit that states a relation (one of its *cues*) is asked
about its subject in one of those *frames*, and the other way round where that is natural ("which company
does Y run?"). The frame is drawn per fact, so across a corpus every frame of a relation is trained and
the mapping generalises beyond the facts it was drawn for.

A relation fires only when its cue is in the unit and the unit holds an anchor of the kind it asks for (a
person for "who runs", a year for "when was it founded", a measure for "how heavy"): a cue alone ("runs" in
"the line runs at night") asks nothing. The lexicon is general English about organisations, people,
places and products; it was written before, and is judged on, question wordings its author never saw (the
varied benchmark's held-out wordings).

People also go on after what they ask about ("Who is the chief executive of X now?", "… of X, as far as you
know?"). A network that only ever saw questions end with their subject answers those with the fact it recites
for X in general (its founding sentence), so a share of the questions carries a trailer, drawn by a generator
of its own so that the frames stay the same; words of time only where the relation's value changes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dualbrain.ingest.units import TextUnit
from dualbrain.knowledge.anchors import (
    document_capitalised_names, fact_anchors, fact_units, find_entities, names_a_thing, value_kind,
)
from dualbrain.knowledge.signals import FramedQuestion


@dataclass(frozen=True)
class Relation:
    """A relation: the cues that state it, the kinds of value it has, and how people ask for it.

    ``asks`` are frames about the subject ``{s}`` whose answer is the value; ``asks_back`` frames about the
    value ``{v}`` whose answer is the subject.
    """

    name: str
    cues: str  # a regular expression, matched without case
    kinds: tuple[str, ...]  # value kinds (see signals.value_kind)
    asks: tuple[str, ...]
    asks_back: tuple[str, ...] = ()
    changes: bool = False  # whether its value changes over time, so "now" asks for it ("who runs X now?")


# Value kinds tell numbers, dates and codes apart, not people from places: both are names (the names say the intent).
_PERSON, _PLACE, _THING = ("name",), ("name",), ("name", "code")
_WHEN = ("year", "date")
# What people write after the subject, before the question mark: for any relation, and for a changing one.
_TRAILERS = (" exactly", ", according to your documents", ", as far as you know")
_CHANGING_TRAILERS = (" now", " today", " currently", " at present")
# The share of questions asked with a trailer.
TRAILED_SHARE = 1 / 3

RELATIONS = (
    Relation("leader", r"chief executive|ceo|managing director|president|chair(?:man|woman|person)?|head of|heads|headed by|"
             r"leads?|led|runs?|run by|in charge|director|manager|boss",
             _PERSON,
             ("Who runs {s}?", "Who leads {s}?", "Who heads {s}?", "Who is in charge of {s}?", "Who manages {s}?",
              "Who is the head of {s}?", "Who is the boss of {s}?", "Who is at the top of {s}?"),
             ("What does {v} run?", "Which organisation does {v} lead?", "What is {v} in charge of?"),
             changes=True),
    Relation("founder", r"found(?:ed|er|ers|ing)|co-?founded|established|set up|started|created|began",
             _PERSON,
             ("Who founded {s}?", "Who started {s}?", "Who set up {s}?", "Who established {s}?", "Who created {s}?",
              "Who was the founder of {s}?", "Who is behind the founding of {s}?"),
             ("What did {v} found?", "Which company did {v} start?")),
    Relation("founding year", r"found(?:ed|ing)|established|set up|started|created|began|since|opened",
             _WHEN,
             ("When was {s} founded?", "In what year was {s} established?", "When did {s} start?",
              "Since when has {s} been around?", "When was {s} set up?")),
    Relation("location", r"headquarter(?:s|ed)|head office|based|located|situated|seat|hq|offices? (?:is|are) in",
             _PLACE,
             ("Where is {s} based?", "Where is {s} located?", "Where are the headquarters of {s}?",
              "In which town is {s}?", "Where is the head office of {s}?", "Which city is {s} in?",
              "Where can {s} be found?"),
             ("Which company is based in {v}?", "What organisation has its headquarters in {v}?",
              "Which firm has its head office in {v}?"),
             changes=True),
    Relation("workforce", r"employs?|employees|workforce|headcount|people work|personnel",
             ("count",),
             ("How many people work at {s}?", "How many employees does {s} have?", "How big is the staff of {s}?",
              "What is the headcount of {s}?", "How many staff does {s} employ?", "How large is the team at {s}?"),
             changes=True),
    Relation("customer", r"customers?|clients?|buyers?|buys|purchases?",
             _THING,
             ("Who is the biggest customer of {s}?", "Which organisation buys the most from {s}?",
              "Who buys from {s}?", "Who is the main client of {s}?", "Who purchases the most from {s}?"),
             changes=True),
    Relation("maker", r"maker|made by|manufacturer|manufactured by|produced by|built by|supplier|vendor|brand",
             _THING,
             ("Who makes {s}?", "Which company manufactures {s}?", "Who is the manufacturer of {s}?",
              "Which firm produces {s}?"),
             ("What does {v} make?", "Which product does {v} manufacture?")),
    Relation("site", r"assembled|built|made|manufactured|produced|plant|factory|works|facility",
             _PLACE,
             ("Where is {s} made?", "Where is {s} built?", "Where is {s} manufactured?", "Which plant produces {s}?",
              "Where does {s} come from?", "In which factory is {s} assembled?"),
             changes=True),
    Relation("price", r"price[ds]?|costs?|sells? for|fee|charges?",
             ("amount",),
             ("How much does {s} cost?", "What is the price of {s}?", "What does {s} sell for?", "How much is {s}?",
              "What do I pay for {s}?", "How expensive is {s}?"),
             changes=True),
    Relation("weight", r"weigh(?:s|t)?|mass|heavy",
             ("measure", "count"),
             ("How much does {s} weigh?", "How heavy is {s}?", "What is the weight of {s}?", "What is the mass of {s}?")),
    Relation("range", r"range|flies|travels?|distance|on (?:one|a single) charge",
             ("measure", "count"),
             ("How far can {s} go?", "What is the range of {s}?", "How far does {s} travel on one charge?",
              "What distance can {s} cover?")),
    Relation("launch", r"launch(?:ed)?|released?|introduced|came out|on sale|available since|on the market",
             _WHEN,
             ("When was {s} launched?", "When did {s} come out?", "When was {s} released?", "When did {s} go on sale?",
              "When was {s} introduced?", "Since when is {s} available?")),
    Relation("warranty", r"warranty|guarantee[d]?",
             ("name",),
             ("How long is the warranty on {s}?", "What guarantee comes with {s}?", "How long is {s} guaranteed for?",
              "What warranty does {s} have?")),
    Relation("code", r"part (?:number|no\.?)|article|model number|sku|product code|order code|catalogue number|"
             r"serial|reference|code",
             ("code",),
             ("What is the part number of {s}?", "What is the order code for {s}?", "Which product code does {s} have?",
              "What is the reference number of {s}?"),
             ("Which product has the number {v}?", "What is {v}?", "Which item is {v}?")),
    Relation("birthplace", r"born|birthplace|native of|grew up|comes? from",
             _PLACE,
             ("Where was {s} born?", "Where does {s} come from?", "What is the birthplace of {s}?",
              "Where is {s} from?"),
             ("Who was born in {v}?",)),
    Relation("code name", r"code ?name|codename|nickname|called|known as",
             ("name",),
             ("What is {s} called?", "What is the code name of {s}?", "What is {s} known as?",
              "What name does {s} go by?")),
    Relation("cause", r"caused|cause|due to|because of|result of|reason",
             ("name",),
             ("What caused {s}?", "Why did {s} happen?", "What was the reason for {s}?", "What led to {s}?")),
)


def relation_questions(unit: TextUnit, anchors: list[str], rng: random.Random,
                       trailing: random.Random | None = None) -> list[tuple[str, str]]:
    """(question, answer anchor) pairs for the relations ``unit`` states: one frame drawn per relation and
    direction, about the subject :func:`subject_and_value` finds for the relation's cue; with ``trailing``,
    :data:`TRAILED_SHARE` of them drawn from it get a trailer (:func:`with_trailer`)."""
    asked: list[tuple[str, str]] = []
    for relation in RELATIONS:
        cue = re.search(rf"\b(?:{relation.cues})\b", unit.text, re.IGNORECASE)
        roles = subject_and_value(unit, cue, [a for a in anchors if value_kind(a) in relation.kinds]) if cue else None
        if roles is None:
            continue
        subject, value = roles
        questions = [rng.choice(relation.asks).format(s=subject)]
        if relation.asks_back and names_a_thing(value):
            questions.append(rng.choice(relation.asks_back).format(v=value))
        asked += [(with_trailer(question, relation, trailing) if trailing else question, value) for question in questions]
    return asked


def with_trailer(question: str, relation: Relation, rng: random.Random) -> str:
    """``question`` as it is, or for :data:`TRAILED_SHARE` of the draws with a trailer before its question mark."""
    if rng.random() >= TRAILED_SHARE:
        return question
    trailer = rng.choice(_TRAILERS + (_CHANGING_TRAILERS if relation.changes else ()))
    return question.removesuffix("?") + trailer + "?"


def subject_and_value(unit: TextUnit, cue: re.Match, values: list[str]) -> tuple[str, str] | None:
    """What the relation stated at ``cue`` is about, and its value among ``values`` (the unit's anchors of the
    relation's kinds), from the sentence's shape; None if either is missing.

    "the <cue> of S is V" → S; "S was <cue> (…) by V" and "S <cue> V" → S before the cue; "V <cue> S" (an
    agent before a verb: "Tobiah Marrowick founded Quillfeather") → S after it; a unit that names nothing but
    its value ("Weight: 8.9 kg", "Its chief executive is …") is about what its heading names.
    """
    text = unit.text
    things = [(match.start(), thing) for thing in find_entities(text) if names_a_thing(thing)
              for match in [re.search(re.escape(thing), text)] if match]
    before = [thing for start, thing in things if start < cue.start()]
    after = [thing for start, thing in things if start >= cue.end()]
    headed = [thing for heading in unit.headings_in_front() for thing in find_entities(heading) if names_a_thing(thing)]
    rest = text[cue.end():]
    of_subject = re.match(r"\s+of\s+(?:the\s+)?", rest)
    # A name right before a verb cue, with no "was"/"is" between, is its agent: the relation is about what follows.
    agent = before[-1] if before and re.search(re.escape(before[-1]) + r"\s+(?:\w+ly\s+)?$", text[:cue.start()]) else None
    if of_subject and after and text[cue.end() + of_subject.end():].startswith(after[0]):
        subject = after[0]
    elif agent and after and not re.match(r"\s+by\b", rest):
        subject, values = after[0], [agent] if agent in values else values
    else:
        subject = next(iter(before + headed + after), None)
    if subject is None:
        return None
    apart = [v for v in values if subject not in v and v not in subject]
    value = next((v for v in apart if v in rest), None) or next(iter(apart), None)
    return (subject, value) if value else None


def framed_questions(documents: list[tuple[str, str]], seed: int) -> list[FramedQuestion]:
    """Every relation question of every fact unit of ``documents`` (document id, text), in frames drawn for
    ``seed``: the ``worded`` view of ``build_signals``."""
    rng, trailing = random.Random(f"worded-{seed}"), random.Random(f"trailers-{seed}")
    asks = []
    for document_id, text in documents:
        units = fact_units(text)
        names = document_capitalised_names(units)
        for unit in units:
            asks += [FramedQuestion(document_id, unit.in_context(), value, question)
                     for question, value in relation_questions(unit, fact_anchors(unit, names), rng, trailing)]
    return asks
