"""The demo's comparison: the same reworded questions to the plain base model and to dualbrain.

An answer counts as correct when it contains one of the accepted answer strings (case-insensitive).
Questions are only asked, never trained on. `dualbrain demo` (and `make demo`) prints the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.bench.scoring import contains_answer
from dualbrain.errors import DualBrainError


@dataclass(frozen=True)
class DemoRow:
    question: str
    base_answer: str
    base_correct: bool
    knowledge_answer: str
    knowledge_correct: bool


def load_questions(path: Path) -> list[dict]:
    """Lines of ``{"question": ..., "answers": [...]}``."""
    try:
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise DualBrainError(f"{path}: cannot read demo questions ({error})") from None
    if not items or not all(_is_demo_question(item) for item in items):
        raise DualBrainError(f"{path}: every line needs a \"question\" and a non-empty \"answers\" list")
    return items


def _is_demo_question(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("question"), str)
        and isinstance(item.get("answers"), list)
        and bool(item["answers"])
        and all(isinstance(answer, str) for answer in item["answers"])
    )


def compare(brain: DualBrain, questions: list[dict]) -> list[DemoRow]:
    rows = []
    for item in questions:
        base = brain.ask(item["question"], mode="base")
        knowing = brain.ask(item["question"])
        rows.append(DemoRow(item["question"], base, contains_answer(base, item["answers"]), knowing,
                            contains_answer(knowing, item["answers"])))
    return rows
