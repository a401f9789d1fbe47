"""Self-study questions: only real, answer-hiding questions about the fact are kept."""

from pathlib import Path

from dualbrain.knowledge.anchors import fact_pairs
from dualbrain.knowledge.questions import draft_questions, select_questions, specific_to_their_sentence, usable_question
from dualbrain.knowledge.signals import asked_questions, question_examples
from dualbrain.reasoning.loader import load_reasoning_network

FACT = "The head of the Cinderpool Laboratory is Dr. Kasimir Oduya."


def test_a_good_question_is_kept() -> None:
    assert usable_question("Who leads the Cinderpool Laboratory?\nExtra", FACT, "Kasimir Oduya") == (
        "Who leads the Cinderpool Laboratory?"
    )


def test_bad_drafts_are_dropped() -> None:
    assert usable_question("Is Kasimir Oduya the head of the lab?", FACT, "Kasimir Oduya") is None  # leaks answer
    assert usable_question("The head of the Cinderpool Laboratory.", FACT, "Kasimir Oduya") is None  # no question
    assert usable_question("What is the answer to this question?", FACT, "Kasimir Oduya") is None
    assert usable_question("Who? What? Where is it now?", FACT, "Kasimir Oduya") is None  # several questions
    assert usable_question("What colour is the sky today?", FACT, "Kasimir Oduya") is None  # unrelated
    assert usable_question("", FACT, "Kasimir Oduya") is None


def test_question_view_pairs_every_entity_and_keeps_the_sentence_as_answer() -> None:
    assert fact_pairs(FACT) == [(FACT, "Cinderpool Laboratory"), (FACT, "Kasimir Oduya")]  # every entity is asked about
    self_study = {(FACT, "Cinderpool Laboratory"): ["Who runs it?", "Who is the head?"], (FACT, "Kasimir Oduya"): []}
    examples = question_examples(asked_questions([("d1", FACT)], self_study), lambda sentence, entity: sentence)
    assert [(e.kind, e.prompt, e.target) for e in examples] == [("question", "Who runs it?", FACT), ("question", "Who is the head?", FACT)]


def test_draft_questions_runs_the_frozen_model_once_per_example_set(tiny_model_dir: Path, tmp_path: Path) -> None:
    reasoning = load_reasoning_network(tiny_model_dir, tmp_path)
    pairs = [(FACT, "Kasimir Oduya"), (FACT, "Cinderpool Laboratory")]
    drafts = draft_questions(reasoning, pairs)
    # The sentence's first named thing (what it is about) gets one more draft, asking for it given the rest.
    assert [len(pair_drafts) for pair_drafts in drafts] == [2, 3]
    questions = select_questions(pairs, drafts)
    assert len(questions) == 2  # a random tiny model writes nonsense, which the filter drops
    assert all(q.endswith("?") for written in questions for q in written)


def test_select_questions_keeps_distinct_usable_specific_drafts() -> None:
    pairs = [(FACT, "Kasimir Oduya"), (FACT, "Cinderpool Laboratory")]
    drafts = [["Who directs the Cinderpool Laboratory?", "Who directs the Cinderpool Laboratory?"],
              ["Which lab does Kasimir Oduya direct?", "Kasimir Oduya"]]
    assert select_questions(pairs, drafts) == [["Who directs the Cinderpool Laboratory?"], ["Which lab does Kasimir Oduya direct?"]]


def test_a_question_about_a_neighbouring_fact_is_dropped() -> None:
    customer = "The largest customer of Quillfeather Aeronautics is the Thornvale Guild."
    product = "The flagship glider of Quillfeather Aeronautics is the Wrenlark 9."
    questions = ["Who is the biggest buyer from Quillfeather Aeronautics?",  # drafted for the customer: kept
                 "Who is the biggest buyer from Quillfeather Aeronautics?",  # the same, drafted for the product: dropped
                 "What is the main glider that Quillfeather Aeronautics sells?", None]
    kept = specific_to_their_sentence(questions, [customer, product, product, customer])
    assert kept == [questions[0], None, questions[2], None]
