"""Questions the documents do not answer, trained to be declined (abstention by "I don't know" labels,
arXiv 2403.05612).

A knowledge network trained only on what its documents say answers everything: asked for a product that does
not exist, or for something no document says about a known thing, it recites the nearest fact it knows. So a
share of the self-study questions is turned into questions the corpus cannot answer, in two ways, both made
from the documents alone (the evaluation's questions never enter here):

* an **unknown thing**: the question's named thing is changed into a near miss that no document mentions:
  another code ("Corvex C2" → "Corvex C7"), or a name made of two known ones ("Bank of Dunmore");
* an **absent attribute**: the question is asked of another thing the corpus knows, none of whose units says
  anything of what the question's own fact is about (a product's "chief executive", a company's "part number").

Each is answered by a short decline that names what is missing, in the words people use ("… is not mentioned
in my documents", "… is not stated …").
"""

from __future__ import annotations

import random
import string

from dualbrain.ingest.units import content_words

_NEAR_MISS_TRIES = 8


def unknown_thing_answer(thing: str) -> str:
    return f"{thing} is not mentioned in my documents."


def absent_attribute_answer(thing: str) -> str:
    return f"That is not stated in my documents about {thing}."


def declined_questions(
    asked: list[tuple[str, str, str, str]], facts_about: dict[str, list[str]], corpus: str, share: float, seed: int
) -> list[tuple[str, str, str]]:
    """(document id, question, decline) for about ``share`` of the ``asked`` questions — (document id, fact,
    anchor, question) each — half about unknown things and half about absent attributes of known ones.

    ``facts_about`` maps each named thing of the corpus to the facts that hold it; ``corpus`` is all its text,
    lower-cased. A question that names no known thing, or whose attribute every other thing has, gives none.
    Deterministic for a seed, drawn by its own generator so the other views stay the same.
    """
    rng = random.Random(seed)
    things = sorted(facts_about, key=len, reverse=True)  # the longest name a question holds is the thing it asks about
    declined = []
    for document_id, fact, anchor, question in rng.sample(asked, round(share * len(asked))):
        thing = next((candidate for candidate in things if candidate in question), None)
        if thing is None:
            continue
        if rng.random() < 0.5:
            missing = near_miss(thing, things, rng, corpus)
            if missing:
                declined.append((document_id, question.replace(thing, missing), unknown_thing_answer(missing)))
            continue
        attribute = _attribute_words(fact, anchor, thing)
        lacking = [other for other in things if other != thing and attribute
                   and not attribute & content_words(" ".join(facts_about[other]))]
        if lacking:
            other = rng.choice(lacking)
            declined.append((document_id, question.replace(thing, other), absent_attribute_answer(other)))
    return declined


def near_miss(thing: str, things: list[str], rng: random.Random, corpus: str) -> str | None:
    """A thing like ``thing`` that no document (``corpus``, lower-cased) mentions, or None: its code with every
    digit changed ("Corvex C2" → "Corvex C7", "XR-100" → "XR-583"), or else one of its words swapped for the
    same word of another of ``things`` as long ("Bank of Lisbon" and "Port of Dunmore" → "Bank of Dunmore").

    Not a one-letter change: that is a typo of a known thing, which a reader would want answered."""
    words = thing.split()
    if any(ch.isdigit() for ch in thing):
        candidates = ["".join(rng.choice([d for d in string.digits if d != ch]) if ch.isdigit() else ch for ch in thing)
                      for _ in range(_NEAR_MISS_TRIES)]
    else:
        candidates = [" ".join(words[:i] + [other.split()[i]] + words[i + 1:])
                      for other in things if len(other.split()) == len(words) for i in range(len(words))]
        rng.shuffle(candidates)
    return next((c for c in candidates if c != thing and c.lower() not in corpus), None)


def _attribute_words(fact: str, anchor: str, thing: str) -> set[str]:
    """What ``fact`` says of ``thing``, as words: the content words of its own text (not the heading put in
    front of it), without its ``anchor`` and the thing's own words.

    "Datasheet: Corvex C2 — Part number: XR-100" about "Corvex C2" → {"part", "number"}: another thing has this
    attribute if one of its facts shares one of those words."""
    own = fact.split(" — ")[-1]
    return content_words(own) - content_words(anchor) - content_words(thing)
