"""Scoring answers, one rule per question kind, behind one entry point (:func:`is_correct`).

* fictional kinds: an accepted string appears in the answer; unanswerable questions need an abstention;
* ``yes-no`` (BoolQ): the answer's leading word is the gold yes/no;
* ``extractive`` (QuAC, NarrativeQA): SQuAD-style token F1 with the gold span reaches
  :data:`EXTRACTIVE_F1_THRESHOLD`; the report gives the mean F1 and the share of answers that contain a gold span.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

from dualbrain.bench.fictional import Question

YES_NO = "yes-no"
EXTRACTIVE = "extractive"
# Half the tokens right on both sides: a loose but not trivial match for a free-form answer against a span
# (a chat model restates and pads; exact match would score almost every right answer wrong).
EXTRACTIVE_F1_THRESHOLD = 0.5

# Phrases with which a model declines to answer. Matched case-insensitively anywhere in the answer.
_ABSTENTION = re.compile(
    r"\b(?:i don'?t know|i do not know|not (?:mentioned|stated|specified|provided|available|known)|no information|"
    r"unknown|cannot (?:be )?(?:answer|determine|find)|can'?t (?:answer|determine|find)|not sure|unable to)\b",
    re.IGNORECASE,
)
_LEADING_WORD = re.compile(r"[\W_]*([^\W_]+)")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def contains_answer(answer: str, accepted: tuple[str, ...] | list[str]) -> bool:
    return any(option.lower() in answer.lower() for option in accepted)


def abstains(answer: str) -> bool:
    return bool(_ABSTENTION.search(answer))


def leading_word(answer: str) -> str:
    """The first word of ``answer``, lower-cased, with punctuation and white space around it ignored."""
    match = _LEADING_WORD.match(answer)
    return match.group(1).lower() if match else ""


def _squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, split on white space."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split()


def token_f1(answer: str, gold: str) -> float:
    """SQuAD-style token F1 between a free-form answer and a gold span."""
    predicted, expected = _squad_tokens(answer), _squad_tokens(gold)
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(expected)
    return 2 * precision * recall / (precision + recall)


def mentions_stale(answer: str, stale: tuple[str, ...] | list[str], accepted: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``answer`` gives a value that a later document replaced: it names the old value, and names it
    before any ``accepted`` (new) one. An answer is read as its first value, so "John Doe succeeds Jane Roe"
    answers John Doe, while "Jane Roe, since replaced by John Doe" still leads with the old one."""
    old = _first_position(answer, stale)
    if old is None:
        return False
    new = _first_position(answer, accepted)
    return new is None or old < new


def _first_position(answer: str, options: tuple[str, ...] | list[str]) -> int | None:
    found = [at for at in (answer.lower().find(option.lower()) for option in options) if at >= 0]
    return min(found, default=None)


def contains_gold(answer: str, accepted: tuple[str, ...] | list[str]) -> bool:
    """Whether ``answer``, normalised as for F1, holds a gold span's tokens in a row: fair to a right answer padded
    with words ("The answer is: sled dog"), which token F1 scores low because of the padding."""
    said = " " + " ".join(_squad_tokens(answer)) + " "
    return any(gold_tokens and f" {' '.join(gold_tokens)} " in said for gold_tokens in map(_squad_tokens, accepted))


def best_token_f1(answer: str, accepted: tuple[str, ...] | list[str]) -> float:
    """The answer's token F1 with the closest gold span (0 without gold)."""
    return max((token_f1(answer, gold) for gold in accepted), default=0.0)


def is_correct(answer: str, accepted: tuple[str, ...] | list[str], kind: str = "paraphrased",
               stale: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``answer`` is right for a question of ``kind`` whose gold answers are ``accepted``.

    Generated kinds: an accepted string for answerable questions and no ``stale`` one (a value a later
    document replaced), abstention for unanswerable ones (no accepted strings).
    """
    if kind == YES_NO:
        return leading_word(answer) in accepted
    if kind == EXTRACTIVE:
        return best_token_f1(answer, accepted) >= EXTRACTIVE_F1_THRESHOLD
    if not accepted:
        return abstains(answer)
    return contains_answer(answer, accepted) and not mentions_stale(answer, stale, accepted)


def majority_accuracy(questions: Iterable[Question]) -> dict[str, float]:
    """Chance level for yes-no questions: the accuracy of always giving the commonest gold answer.

    ``{}`` when there are no yes-no questions.
    """
    golds = Counter(question.answers[0] for question in questions if question.kind == YES_NO)
    if not golds:
        return {}
    return {YES_NO: round(golds.most_common(1)[0][1] / sum(golds.values()), 3)}
