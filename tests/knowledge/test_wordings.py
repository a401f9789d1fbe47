"""The relation lexicon asks what a fact states in the wordings people use, about the right subject."""

import random

from dualbrain.ingest.units import text_units
from pathlib import Path

from transformers import AutoTokenizer

from dualbrain.knowledge.anchors import fact_anchors, fact_pairs, fact_texts
from dualbrain.knowledge.signals import build_signals, cloze_examples, linked_answers
from dualbrain.knowledge.wordings import RELATIONS, TRAILED_SHARE, framed_questions, relation_questions, with_trailer


def asked(text: str) -> list[tuple[str, str]]:
    """Every frame the unit of ``text`` could be asked in: the draw is made once per relation, so many seeds."""
    unit = text_units(text)[-1]
    found = set()
    for seed in range(40):
        found.update(relation_questions(unit, fact_anchors(unit), random.Random(seed)))
    return sorted(found)


def test_a_role_is_asked_about_the_organisation_in_the_lexicons_words_and_back() -> None:
    questions = asked("The chief executive of Quillfeather Aeronautics is Ottilie Brannock.")
    assert ("Who runs Quillfeather Aeronautics?", "Ottilie Brannock") in questions
    assert ("Who is in charge of Quillfeather Aeronautics?", "Ottilie Brannock") in questions
    assert ("What does Ottilie Brannock run?", "Ottilie Brannock") in questions
    assert all("Ottilie Brannock?" not in question for question, _ in questions if question.startswith("Who"))


def test_the_subject_follows_the_sentence_shape() -> None:
    passive = asked("Nohouvir Systems was founded in 1982 by Huthkan Vaixthon and has its head office in Stolluxbury.")
    assert ("Who founded Nohouvir Systems?", "Huthkan Vaixthon") in passive
    assert ("When was Nohouvir Systems founded?", "1982") in passive
    assert ("Where is Nohouvir Systems based?", "Stolluxbury") in passive
    active = asked("Tobiah Marrowick founded Quillfeather Aeronautics in 1983 in Harrowmere.")
    assert ("Who founded Quillfeather Aeronautics?", "Tobiah Marrowick") in active
    assert ("When was Quillfeather Aeronautics founded?", "1983") in active
    assert not any("Tobiah Marrowick founded?" in question or "Who founded Tobiah" in question for question, _ in active)


def test_a_field_is_about_what_its_heading_names() -> None:
    text = "# Datasheet: Corvex C2\n\nWeight: 8.9 kg\n"
    assert ("How heavy is Corvex C2?", "8.9 kg") in asked(text)
    assert ("Which product has the number XR-100?", "XR-100") in asked("# Datasheet: Corvex C2\n\nPart number: XR-100\n")


def test_a_cue_without_a_value_of_its_kind_asks_nothing() -> None:
    assert asked("The night line at the Dasgaind plant runs until ten.") == []  # "runs", but no person
    assert asked("Staff get 29 days of paid leave per year.") == []  # a count, but not of the workforce


def test_every_relation_has_frames_with_its_slot() -> None:
    for relation in RELATIONS:
        assert relation.asks and all("{s}" in frame for frame in relation.asks)
        assert all("{v}" in frame for frame in relation.asks_back)


def test_a_share_of_questions_go_on_after_their_subject_with_time_only_where_the_value_changes() -> None:
    leader, founder = (next(r for r in RELATIONS if r.name == name) for name in ("leader", "founder"))
    rng = random.Random(0)
    led = [with_trailer("Who runs Quillfeather?", leader, rng) for _ in range(600)]
    founded = [with_trailer("Who founded Quillfeather?", founder, rng) for _ in range(600)]
    for questions in (led, founded):
        assert abs(sum(q.count(" ") > 2 for q in questions) / len(questions) - TRAILED_SHARE) < 0.06
        assert all(q.startswith("Who ") and q.endswith("?") and q.count("?") == 1 for q in questions)
    assert "Who runs Quillfeather now?" in led and "Who runs Quillfeather, as far as you know?" in led
    assert not any(word in q for q in founded for word in (" now", " today", " currently", " at present"))
    # The trailers come from their own generator: the frames drawn are the same with them and without.
    unit = text_units("The chief executive of Quillfeather Aeronautics is Ottilie Brannock.")[-1]
    plain = relation_questions(unit, fact_anchors(unit), random.Random(3))
    trailed = relation_questions(unit, fact_anchors(unit), random.Random(3), random.Random(5))
    assert [(q.split(" Quillfeather")[0].split(" Ottilie")[0], v) for q, v in plain] == \
        [(q.split(" Quillfeather")[0].split(" Ottilie")[0], v) for q, v in trailed]


DOCUMENTS = [("d1", "The chief executive of Quillfeather Aeronautics is Ottilie Brannock.\n\n"
                    "Quillfeather Aeronautics employs 430 people.\n\nThe canteen serves saffron rice.")]


def test_the_worded_view_answers_with_the_unit_and_is_deterministic(tiny_model_dir: Path) -> None:
    framed = framed_questions(DOCUMENTS, seed=0)
    assert framed == framed_questions(DOCUMENTS, seed=0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [e for e in build_signals(DOCUMENTS, tokenizer, 128, seed=0, framed=framed) if e.kind == "worded"]
    assert [example.prompt for example in examples] == [ask.question for ask in framed]
    assert any("430" in example.target and "Quillfeather Aeronautics" in example.prompt for example in examples)
    assert all(any(example.target.startswith(fact) for fact in fact_texts(DOCUMENTS[0][1])) for example in examples)


def test_a_pair_asked_in_a_frame_gets_no_cloze_turn() -> None:
    text = DOCUMENTS[0][1]
    framed = {(ask.fact, ask.anchor) for ask in framed_questions(DOCUMENTS, seed=0)}
    assert ("Quillfeather Aeronautics employs 430 people.", "430") in framed
    assert not any("saffron" in fact for fact, _ in framed)  # no relation: left to the cloze view
    every = cloze_examples("d1", text, random.Random(0), linked_answers(DOCUMENTS))
    rest = cloze_examples("d1", text, random.Random(0), linked_answers(DOCUMENTS), framed)
    assert len(every) == len(fact_pairs(text)) and len(rest) == len(every) - len(framed & set(fact_pairs(text)))
    assert any("saffron" in example.target for example in rest)
    blanked_430 = lambda example: example.target.startswith("Quillfeather Aeronautics employs") and "430" not in example.prompt  # noqa: E731
    assert any(map(blanked_430, every)) and not any(map(blanked_430, rest))
