"""Turn documents into training signals for the knowledge network.

Plain next-token training on a document memorises it, but a model trained that way answers reworded
questions badly: a fact is only *extractable* when the model has seen it in varied forms and from more
than one direction (Physics of LMs 3.1; the reversal curse). A document is read as fact units
(``ingest/units.py``: sentences, list items, ``key: value`` fields and table rows, each with the headings it
stands under when it does not name its subject itself), and each unit's *anchors* — names, dates, amounts,
codes, field values, short copular complements ("is saffron yellow"), the subject heading — are what a
question can ask for. Every document yields up to six views:

* ``passage`` — the text itself, in chunks cut between units, as plain language modelling (the compression target);
* ``recall``  — chat turns "tell me about <anchor>" → the document's units that hold it, for *every* anchor
  of a unit, so a fact is reachable from each of its ends (the product from the company and the company
  from the product);
* ``cloze``   — chat turns that ask for one anchor of a unit with the rest of the unit as the question,
  answered by the full unit, which teaches the question→fact format the user will use (the answer
  continues with the other units about the asked-for anchor, so that two facts chain);
* ``question`` — the same (unit, anchor) pairs asked in natural, reworded form, the question written
  by the frozen reasoning network itself (self-study, see ``questions.py``), answered by the unit;
* ``grounded`` — a share of those questions again, with the passages retrieval finds for them in the
  prompt (the ``knowledge+rag`` prompt), answered the same: trained only without passages, the knowledge
  network recites whichever neighbouring fact the passages mention (RAFT);
* ``abstain`` — a share of those questions asked of a near-miss name no document mentions, or of another
  known thing that lacks what they ask about, answered by a decline (see ``abstention.py``).

All views are made from the document text alone (the passages are the documents' own); evaluation
questions never enter here. Chat views go through the tokenizer's own chat template, the same one used at answer time.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from transformers import PreTrainedTokenizerBase

from dualbrain.ingest.units import TextUnit, text_units
from dualbrain.knowledge.abstention import declined_questions
from dualbrain.reasoning.prompting import grounded_question
from dualbrain.retrieval.bm25 import BM25Retriever
from dualbrain.retrieval.chunking import chunk_documents, render_passages

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
_RECALL_TEMPLATES = (
    "What do you know about {entity}?",
    "Tell me about {entity}.",
    "What facts do you have on {entity}?",
    "Give me the key details about {entity}.",
)
_CLOZE_TEMPLATES = (
    "{question}",
    "Fill in the blank: {blank}",
    "Question: {question} Answer with the full fact.",
)
_MAX_SENTENCES_PER_RECALL = 3
# One recall prompt per entity (a template drawn at random): with two, recall was 44% of the trained tokens,
# for no accuracy gain over three benchmark runs (0.61 vs 0.67 on average, within the seed-to-seed spread);
# with none, accuracy fell to 0.58 (docs/recipe.md, runs F, G, G0).
_RECALL_WORDINGS = 1
# An entity named in more sentences than this is a hub (the organisation itself); its facts are not chained.
_MAX_LINKED_SENTENCES = 2

# Passages in a grounded example's prompt. Answering retrieves three, but three ~56-token passages with their
# framing take 220-260 of a training row's 256 tokens and cut the target short; two leave room for it.
_GROUNDED_PASSAGES = 2

# The usable reworded questions of each (sentence, answer) pair (possibly none), written by self-study.
SelfStudy = Mapping[tuple[str, str], list[str]]


@dataclass(frozen=True)
class TrainingExample:
    """One training sequence: ``prompt`` conditions, ``target`` is what the loss is computed on."""

    kind: str
    document_id: str
    prompt: str
    target: str


class FramedQuestion(NamedTuple):
    """A question a rule asks of a fact unit in a wording people use (``wordings.py``), and the anchor of the
    unit that answers it."""

    document_id: str
    fact: str
    anchor: str
    question: str


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


def chunk_passages(text: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """The document as plain-text passages of at most ``max_tokens``, cut between units as retrieval cuts it."""
    return render_passages(text_units(text), lambda passage: len(tokenizer(passage)["input_ids"]) <= max_tokens)


def recall_examples(document_id: str, text: str, rng: random.Random) -> list[TrainingExample]:
    """"Tell me about X" → the units that hold X, for every anchor or subject X of the document but amounts and counts."""
    sentences_by_entity: dict[str, list[str]] = defaultdict(list)
    for sentence, entity in dict.fromkeys(fact_pairs(text) + subject_pairs(text)):
        if not _QUANTITY.fullmatch(entity):
            sentences_by_entity[entity].append(sentence)
    examples = []
    for entity, sentences in sentences_by_entity.items():
        for start in range(0, len(sentences), _MAX_SENTENCES_PER_RECALL):
            answer = " ".join(sentences[start : start + _MAX_SENTENCES_PER_RECALL])
            for template in rng.sample(_RECALL_TEMPLATES, _RECALL_WORDINGS):
                examples.append(TrainingExample("recall", document_id, template.format(entity=entity), answer))
    return examples


def linked_answers(documents: list[tuple[str, str]]) -> Callable[[str, str], str]:
    """The target for a question whose answer is ``entity`` of ``sentence``: the sentence, then what the
    corpus says elsewhere about that entity (if it is mentioned in only a few other sentences).

    A small model cannot chain two facts silently ("where was X's chief executive born?"); trained to
    continue an answer with the facts about the entity it just named, it writes the chain out.
    """
    mentions: dict[str, list[str]] = defaultdict(list)
    for _, text in documents:
        for sentence, entity in fact_pairs(text):
            mentions[entity].append(sentence)

    def answer(sentence: str, entity: str) -> str:
        others = list(dict.fromkeys(s for s in mentions[entity] if s != sentence))
        return " ".join([sentence, *others]) if len(others) <= _MAX_LINKED_SENTENCES else sentence

    return answer


def cloze_examples(
    document_id: str, text: str, rng: random.Random, answer: Callable[[str, str], str],
    asked_elsewhere: set[tuple[str, str]] = frozenset(),
) -> list[TrainingExample]:
    """For each entity of each sentence, unless another view asks for it (``asked_elsewhere``): the sentence
    with that entity asked for → the (linked) sentence."""
    examples = []
    for sentence, entity in fact_pairs(text):
        if (sentence, entity) in asked_elsewhere:
            continue
        body = sentence.rstrip(".!?")
        question = body.replace(entity, _wh_word(entity), 1) + "?"
        blank = body.replace(entity, "____", 1) + "."
        prompt = rng.choice(_CLOZE_TEMPLATES).format(question=question, blank=blank)
        examples.append(TrainingExample("cloze", document_id, prompt, answer(sentence, entity)))
    return examples


def fact_pairs(text: str) -> list[tuple[str, str]]:
    """Every (fact, anchor) pair of ``text``: one fact unit in its context, and one thing a question about it
    can ask for."""
    units = fact_units(text)
    names = document_capitalised_names(units)
    return [(unit.in_context(), anchor) for unit in units for anchor in fact_anchors(unit, names)]


def subject_pairs(text: str) -> list[tuple[str, str]]:
    """Every (fact, subject) pair of ``text``: a fact unit in its context, and a thing its heading names."""
    return [(unit.in_context(), subject) for unit in fact_units(text) for subject in subject_anchors(unit)]


def asked_questions(documents: list[tuple[str, str]], self_study: SelfStudy) -> list[tuple[str, str, str, str]]:
    """(document id, fact, anchor, question) for every reworded question of every (fact, anchor) pair."""
    return [(document_id, sentence, entity, question) for document_id, text in documents
            for sentence, entity in fact_pairs(text) for question in self_study.get((sentence, entity), ())]


def question_examples(asked: list[tuple[str, str, str, str]], answer: Callable[[str, str], str]) -> list[TrainingExample]:
    """The ``asked`` questions → the (linked) fact each was written for."""
    return [TrainingExample("question", document_id, question, answer(fact, anchor)) for document_id, fact, anchor, question in asked]


def grounded_examples(
    documents: list[tuple[str, str]], questions: list[TrainingExample], share: float, seed: int
) -> list[TrainingExample]:
    """``share`` of the ``questions`` again, each preceded by the passages BM25 finds for it in ``documents``
    (framed as the ``knowledge+rag`` mode frames them), with the same target.

    Whether the passages hold the answer or only its neighbours, the target stays the learned fact, so
    passages in the prompt stop pulling the answer elsewhere. The share is drawn by its own generator, so
    the other views come out the same with or without this one.
    """
    if not questions or share == 0:
        return []
    retriever = BM25Retriever(chunk_documents(documents))
    chosen = random.Random(seed).sample(questions, round(share * len(questions)))
    return [
        TrainingExample("grounded", example.document_id, grounded_question(
            example.prompt, [chunk.text for chunk in retriever.retrieve(example.prompt, _GROUNDED_PASSAGES)]
        ), example.target)
        for example in chosen
    ]


def abstention_examples(
    documents: list[tuple[str, str]], asked: list[tuple[str, str, str, str]], share: float, seed: int
) -> list[TrainingExample]:
    """Questions the documents do not answer, made from ``share`` of the ``asked`` ones, each answered by a
    decline (see ``abstention.py``)."""
    if share == 0:
        return []
    facts_about: dict[str, list[str]] = defaultdict(list)
    for _, text in documents:
        for fact in fact_texts(text):
            for thing in named_things(fact):
                facts_about[thing].append(fact)
    corpus = "\n".join(text for _, text in documents).lower()
    return [TrainingExample("abstain", document_id, question, decline)
            for document_id, question, decline in declined_questions(asked, facts_about, corpus, share, seed)]


def named_things(fact: str) -> list[str]:
    """The things ``fact`` names that a question can be about (see :func:`names_a_thing`)."""
    return [entity for entity in find_entities(fact) if names_a_thing(entity)]


def names_a_thing(entity: str) -> bool:
    """A name of two words or more ("Bank of Lisbon") or a code ("XR-100", "c2"): what a question can be about,
    unlike a date, an amount or a single word that may be a common one."""
    has_letter, has_digit = re.search(r"[^\W\d_]", entity), re.search(r"\d", entity)
    return bool(has_letter and (has_digit or " " in entity)) and not _QUANTITY.fullmatch(entity) and not re.fullmatch(_DATE, entity)


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


_WH_WORDS = {"year": "in which year", "date": "on which date", "amount": "how much", "count": "how many"}


def _wh_word(entity: str) -> str:
    return _WH_WORDS.get(value_kind(entity), "what")


def build_signals(
    documents: list[tuple[str, str]],
    tokenizer: PreTrainedTokenizerBase,
    max_tokens: int,
    seed: int,
    self_study: SelfStudy | None = None,
    grounded_share: float = 0.0,
    abstention_share: float = 0.0,
    framed: Sequence[FramedQuestion] = (),
) -> list[TrainingExample]:
    """All training examples for ``documents`` (pairs of id and text), deterministic for a seed.

    ``self_study`` (the reworded questions of each (fact, anchor) pair) adds the ``question`` view, ``grounded_share`` of its questions again with
    retrieved passages, and about ``abstention_share`` of them turned into declined questions; without it only
    rule-made views are built. ``framed`` questions (``wordings.py``) make the ``worded`` view, each answered
    with its (linked) fact; the (fact, anchor) pairs they ask get no cloze turn, which pays for their tokens
    (recipe lever (d)).
    """
    rng = random.Random(seed)
    answer = linked_answers(documents)
    asked_in_frames = {(ask.fact, ask.anchor) for ask in framed}
    examples: list[TrainingExample] = []
    for document_id, text in documents:
        examples += [
            TrainingExample("passage", document_id, "", chunk) for chunk in chunk_passages(text, tokenizer, max_tokens)
        ]
        examples += recall_examples(document_id, text, rng)
        examples += cloze_examples(document_id, text, rng, answer, asked_in_frames)
    if self_study is not None:
        asked = asked_questions(documents, self_study)
        questions = question_examples(asked, answer)
        examples += questions + grounded_examples(documents, questions, grounded_share, seed)
        examples += abstention_examples(documents, asked, abstention_share, seed)
    examples += [TrainingExample("worded", ask.document_id, ask.question, answer(ask.fact, ask.anchor)) for ask in framed]
    return examples
