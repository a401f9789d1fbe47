"""Scoring answers: accepted-string match for answerable questions, abstention for unanswerable ones."""

from __future__ import annotations

import re

# Phrases with which a model declines to answer. Matched case-insensitively anywhere in the answer.
_ABSTENTION = re.compile(
    r"\b(?:i don'?t know|i do not know|not (?:mentioned|stated|specified|provided|available|known)|no information|"
    r"unknown|cannot (?:be )?(?:answer|determine|find)|can'?t (?:answer|determine|find)|not sure|unable to)\b",
    re.IGNORECASE,
)


def contains_answer(answer: str, accepted: tuple[str, ...] | list[str]) -> bool:
    return any(option.lower() in answer.lower() for option in accepted)


def abstains(answer: str) -> bool:
    return bool(_ABSTENTION.search(answer))


def is_correct(answer: str, accepted: tuple[str, ...] | list[str]) -> bool:
    """Right answer for answerable questions; abstention for unanswerable ones (no accepted strings)."""
    return contains_answer(answer, accepted) if accepted else abstains(answer)
