"""Self-study questions: the frozen reasoning network rewords each fact as a natural question.

Rule-made views (``signals.py``) keep the document's own wording; users do not. So for every
(sentence, entity) pair the frozen model is asked, with two worked examples, for a question whose answer
is that entity. Only the model's *question* is used: the training target stays the document's own
sentence, so nothing the model might invent becomes knowledge. Questions that leak the answer, are not a
single question, or share no words with the fact are dropped.

A small model often asks about a *neighbouring* fact ("What is the largest customer of X?" drafted for the
sentence about X's product). Trained as question → this sentence, such a draft teaches the wrong answer,
so a question is kept only if, among all fact sentences being learned, its own sentence is the one most
similar to it (all-MiniLM-L6-v2 sentence embeddings).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

from dualbrain.ingest.units import content_words
from dualbrain.knowledge.anchors import find_entities
from dualbrain.reasoning.generate import generate_batch
from dualbrain.retrieval.chunking import Chunk
from dualbrain.retrieval.embed import EmbeddingRetriever
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.reasoning.prompting import conversation_prompt

_INSTRUCTION = (
    'Here is a fact: "{sentence}"\n'
    'Write a question that asks for "{answer}" without using the words "{answer}". Reply with the question only.'
)
# Made-up facts unrelated to any corpus, each with two questions showing the wanted form (reworded, answer
# left out). Every pair gets one draft per example set: different examples steer the small model to
# different wordings, and more wordings per fact make it extractable (Physics of LMs 3.1).
_EXAMPLE_SETS = (
    ("The river port of Dunmore was built in 1871 by the engineer Ada Pell.",
     (("Ada Pell", "Which engineer built the river port of Dunmore?"), ("1871", "When was the Dunmore river port constructed?"))),
    ("The Harbour Bakery in Lindfield has 45 bakers and is owned by the Corran family.",
     (("45", "How many people bake bread at the Harbour Bakery?"), ("Corran family", "Who owns the bakery on the harbour in Lindfield?"))),
)
# For pairs whose answer is the sentence's first named thing (usually what the sentence is about), one more
# draft with examples that ask for it given the rest: without them the small model turns such requests
# around ("Who is P?" for "the company whose chief executive is P"), and reversed questions go unlearned.
_SUBJECT_EXAMPLES = (
    "The Harbour Bakery in Lindfield has 45 bakers and is owned by the Corran family.",
    (("Harbour Bakery", "Which bakery belongs to the Corran family?"), ("Harbour Bakery", "Which bakery employs 45 bakers?")),
)
_MAX_QUESTION_TOKENS = 32
_DRAFT_BATCH = 32


def _prompt(reasoning: ReasoningNetwork, sentence: str, answer: str, examples_for: tuple) -> str:
    example_fact, examples = examples_for
    messages = []
    for example_answer, example_question in examples:
        messages.append({"role": "user", "content": _INSTRUCTION.format(sentence=example_fact, answer=example_answer)})
        messages.append({"role": "assistant", "content": example_question})
    messages.append({"role": "user", "content": _INSTRUCTION.format(sentence=sentence, answer=answer)})
    return conversation_prompt(reasoning.tokenizer, messages)


def usable_question(text: str, sentence: str, answer: str) -> str | None:
    """The first line of ``text`` if it is one real question about ``sentence`` that hides ``answer``."""
    question = text.strip().splitlines()[0].strip() if text.strip() else ""
    words = question.split()
    if not question.endswith("?") or question.count("?") != 1 or not 4 <= len(words) <= 30:
        return None
    if answer.lower() in question.lower() or "answer" in question.lower():
        return None
    return question if content_words(question) & content_words(sentence) else None


def draft_questions(
    reasoning: ReasoningNetwork,
    pairs: list[tuple[str, str]],
    on_batch: Callable[[int, int], None] | None = None,
) -> list[list[str]]:
    """The frozen model's raw drafts for each (sentence, answer) pair: one per example set, and one more
    asking for the sentence's first named thing when that is the answer.

    Drafts depend only on the pair, never on other documents, so they can be cached per document and
    reused when a shard is rebuilt (a forgotten document's drafts are deleted with it).
    """
    jobs = {examples: list(range(len(pairs))) for examples in _EXAMPLE_SETS}
    jobs[_SUBJECT_EXAMPLES] = [index for index, (sentence, answer) in enumerate(pairs) if find_entities(sentence)[:1] == [answer]]
    # One generation call per example set: its prompts share the worked examples, read once per batch.
    batches = [-(-len(indices) // _DRAFT_BATCH) for indices in jobs.values()]
    per_pair: list[list[str]] = [[] for _ in pairs]
    for (examples, indices), offset in zip(jobs.items(), accumulate(batches, initial=0)):
        def progress(batch: int, _: int, offset: int = offset) -> None:
            if on_batch:
                on_batch(offset + batch, sum(batches))

        prompts = [_prompt(reasoning, *pairs[index], examples) for index in indices]
        drafts = generate_batch(reasoning.model, reasoning.tokenizer, prompts, _MAX_QUESTION_TOKENS, _DRAFT_BATCH, progress)
        for index, draft in zip(indices, drafts):
            per_pair[index].append(draft)
    return per_pair


def select_questions(pairs: list[tuple[str, str]], drafts: list[list[str]]) -> list[list[str]]:
    """The distinct usable questions among each pair's ``drafts``, judged against all ``pairs`` learned together."""
    flat = [(index, usable_question(draft, *pairs[index])) for index, pair_drafts in enumerate(drafts) for draft in pair_drafts]
    kept = specific_to_their_sentence([question for _, question in flat], [pairs[index][0] for index, _ in flat])
    per_pair: list[list[str]] = [[] for _ in pairs]
    for (index, _), question in zip(flat, kept):
        if question and question not in per_pair[index]:
            per_pair[index].append(question)
    return per_pair


def specific_to_their_sentence(
    questions: list[str | None], sentences: list[str], model_dir: Path | None = None
) -> list[str | None]:
    """``questions`` (one per sentence), with None where another of ``sentences`` matches a question better."""
    if not any(questions):
        return questions
    distinct = list(dict.fromkeys(sentences))
    ranker = EmbeddingRetriever([Chunk(str(i), sentence) for i, sentence in enumerate(distinct)], model_dir)
    return [
        question if question and ranker.retrieve(question, 1)[0].text == sentence else None
        for question, sentence in zip(questions, sentences)
    ]
