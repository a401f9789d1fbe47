"""Turn documents into training signals for the knowledge network.

Plain next-token training on a document memorises it, but a model trained that way answers reworded
questions badly: a fact is only *extractable* when the model has seen it in varied forms and from more
than one direction (Physics of LMs 3.1; the reversal curse). A document is read as fact units
(``ingest/units.py``: sentences, list items, ``key: value`` fields and table rows, each with the headings it
stands under when it does not name its subject itself), and each unit's *anchors* (``anchors.py``) — names, dates, amounts,
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
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from transformers import PreTrainedTokenizerBase

from dualbrain.ingest.units import text_units
from dualbrain.knowledge.abstention import declined_questions
from dualbrain.knowledge.anchors import fact_pairs, fact_texts, is_quantity, named_things, subject_pairs, value_kind
from dualbrain.reasoning.prompting import grounded_question
from dualbrain.retrieval.bm25 import BM25Retriever
from dualbrain.retrieval.chunking import chunk_documents, render_passages

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


def chunk_passages(text: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """The document as plain-text passages of at most ``max_tokens``, cut between units as retrieval cuts it."""
    return render_passages(text_units(text), lambda passage: len(tokenizer(passage)["input_ids"]) <= max_tokens)


def recall_examples(document_id: str, text: str, rng: random.Random) -> list[TrainingExample]:
    """"Tell me about X" → the units that hold X, for every anchor or subject X of the document but amounts and counts."""
    sentences_by_entity: dict[str, list[str]] = defaultdict(list)
    for sentence, entity in dict.fromkeys(fact_pairs(text) + subject_pairs(text)):
        if not is_quantity(entity):
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
