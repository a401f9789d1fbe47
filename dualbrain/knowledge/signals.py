"""Turn documents into training signals for the knowledge network.

Plain next-token training on a document memorises it, but a model trained that way answers reworded
questions badly: a fact is only *extractable* when the model has seen it in varied forms and from more
than one direction (Physics of LMs 3.1; the reversal curse). So every document yields five views:

* ``passage`` — the text itself, in chunks, as plain language modelling (the compression target);
* ``recall``  — chat turns "tell me about <entity>" → the document's sentences that mention it, for
  *every* named entity of a sentence, so a fact is reachable from each of its ends (the product from the
  company and the company from the product);
* ``cloze``   — chat turns that ask for one entity of a sentence with the rest of the sentence as the
  question, answered by the full sentence, which teaches the question→fact format the user will use
  (the answer continues with the other sentences about the asked-for entity, so that two facts chain);
* ``question`` — the same (sentence, entity) pairs asked in natural, reworded form, the question written
  by the frozen reasoning network itself (self-study, see ``questions.py``), answered by the sentence;
* ``grounded`` — a share of those questions again, with the passages retrieval finds for them in the
  prompt (the ``knowledge+rag`` prompt), answered the same: trained only without passages, the knowledge
  network recites whichever neighbouring fact the passages mention (RAFT).

All views are made from the document text alone (the passages are the documents' own); evaluation
questions never enter here. Chat views go through the tokenizer's own chat template, the same one used at answer time.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from dualbrain.ingest.sentences import sentences
from dualbrain.reasoning.prompting import grounded_question
from dualbrain.retrieval.bm25 import BM25Retriever
from dualbrain.retrieval.chunking import chunk_documents

# Runs of capitalised words, optionally joined by short lowercase connectors ("Bank of Lisbon"), and
# codes with digits ("QF-7", "1987"): the named things a question can ask about.
_ENTITY = re.compile(
    r"\b(?:[A-Z][\w'’&-]*[\w](?:\s+(?:of|the|de|la|van|von|and|for|&)\s+|\s+)?)+"
    r"|\b[A-Z]*\d[\w./:-]*\b"
)
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

# Writes the usable questions for each (sentence, answer) pair (possibly none).
QuestionWriter = Callable[[list[tuple[str, str]]], list[list[str]]]


@dataclass(frozen=True)
class TrainingExample:
    """One training sequence: ``prompt`` conditions, ``target`` is what the loss is computed on."""

    kind: str
    document_id: str
    prompt: str
    target: str


def split_sentences(text: str) -> list[str]:
    """Fact-bearing sentences and list items of ``text``: markup stripped, headings and short fragments dropped."""
    pieces = (piece.strip(" \t-*#>|") for piece in sentences(text))
    return [piece for piece in pieces if len(piece.split()) >= 4]


def find_entities(sentence: str) -> list[str]:
    """Named things in ``sentence`` (deduplicated, in order of appearance)."""
    found: list[str] = []
    for match in _ENTITY.finditer(sentence):
        entity = match.group(0).strip(" .,;:'’")
        words = entity.split()
        while words and words[0].lower() in _NOT_ENTITIES:  # "Every Friday" → "Friday"
            words.pop(0)
        entity = re.sub(r"'s$|’s$", "", " ".join(words))
        if len(entity) < 2 or entity in found:
            continue
        found.append(entity)
    return found


def document_names(text: str) -> set[str]:
    """The multi-word names of a document (people, organisations, places): what documents about the same
    things share. Single capitalised words are left out: "Friday" or "Board" would tie unrelated documents."""
    return {entity for sentence in split_sentences(text) for entity in find_entities(sentence) if " " in entity}


def chunk_passages(text: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """Split ``text`` at paragraph, then sentence boundaries into chunks of at most ``max_tokens``."""
    chunks: list[str] = []
    current: list[str] = []
    units = [unit for paragraph in text.split("\n\n") for unit in _paragraph_units(paragraph)]
    for unit in units:
        candidate = "\n".join(current + [unit])
        if current and len(tokenizer(candidate)["input_ids"]) > max_tokens:
            chunks.append("\n".join(current))
            current = [unit]
        else:
            current.append(unit)
    if current:
        chunks.append("\n".join(current))
    return chunks


def _paragraph_units(paragraph: str) -> list[str]:
    paragraph = paragraph.strip()
    return [paragraph] if len(paragraph) < 600 else sentences(paragraph)


def recall_examples(document_id: str, text: str, rng: random.Random) -> list[TrainingExample]:
    """"Tell me about X" → the sentences mentioning X, for every entity X of the document."""
    sentences_by_entity: dict[str, list[str]] = defaultdict(list)
    for sentence in split_sentences(text):
        for entity in find_entities(sentence):
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
        for sentence in split_sentences(text):
            for entity in find_entities(sentence):
                mentions[entity].append(sentence)

    def answer(sentence: str, entity: str) -> str:
        others = list(dict.fromkeys(s for s in mentions[entity] if s != sentence))
        return " ".join([sentence, *others]) if len(others) <= _MAX_LINKED_SENTENCES else sentence

    return answer


def cloze_examples(
    document_id: str, text: str, rng: random.Random, answer: Callable[[str, str], str]
) -> list[TrainingExample]:
    """For each entity of each sentence: the sentence with that entity asked for → the (linked) sentence."""
    examples = []
    for sentence, entity in fact_pairs(text):
        body = sentence.rstrip(".!?")
        question = body.replace(entity, _wh_word(entity), 1) + "?"
        blank = body.replace(entity, "____", 1) + "."
        prompt = rng.choice(_CLOZE_TEMPLATES).format(question=question, blank=blank)
        examples.append(TrainingExample("cloze", document_id, prompt, answer(sentence, entity)))
    return examples


def fact_pairs(text: str) -> list[tuple[str, str]]:
    """Every (sentence, entity) pair of ``text``: one fact, and one thing a question about it can ask for."""
    return [(sentence, entity) for sentence in split_sentences(text) for entity in find_entities(sentence)]


def question_examples(
    documents: list[tuple[str, str]], write_questions: QuestionWriter, answer: Callable[[str, str], str]
) -> list[TrainingExample]:
    """Reworded questions for every (sentence, entity) pair of every document → the (linked) sentence."""
    pairs = [(document_id, sentence, entity) for document_id, text in documents for sentence, entity in fact_pairs(text)]
    questions = write_questions([(sentence, entity) for _, sentence, entity in pairs])
    return [
        TrainingExample("question", document_id, question, answer(sentence, entity))
        for (document_id, sentence, entity), written in zip(pairs, questions)
        for question in written
    ]


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


def _wh_word(entity: str) -> str:
    if re.fullmatch(r"(1[6-9]|20)\d\d", entity):
        return "in which year"
    if re.fullmatch(r"\d[\d,.]*", entity):
        return "how many"
    return "what"


def build_signals(
    documents: list[tuple[str, str]],
    tokenizer: PreTrainedTokenizerBase,
    max_tokens: int,
    seed: int,
    write_questions: QuestionWriter | None = None,
    grounded_share: float = 0.0,
) -> list[TrainingExample]:
    """All training examples for ``documents`` (pairs of id and text), deterministic for a seed.

    ``write_questions`` adds the self-study ``question`` view, and ``grounded_share`` of its questions
    again with retrieved passages; without it only rule-made views are built.
    """
    rng = random.Random(seed)
    answer = linked_answers(documents)
    examples: list[TrainingExample] = []
    for document_id, text in documents:
        examples += [
            TrainingExample("passage", document_id, "", chunk) for chunk in chunk_passages(text, tokenizer, max_tokens)
        ]
        examples += recall_examples(document_id, text, rng)
        examples += cloze_examples(document_id, text, rng, answer)
    if write_questions is not None:
        questions = question_examples(documents, write_questions, answer)
        examples += questions + grounded_examples(documents, questions, grounded_share, seed)
    return examples
