"""Training signals come from document text only, in their views, deterministically."""

import random
from pathlib import Path

from transformers import AutoTokenizer

from dualbrain.knowledge.anchors import fact_pairs, fact_texts, find_entities, subject_pairs
from dualbrain.knowledge.signals import (
    build_signals, chunk_passages, cloze_examples, grounded_examples, linked_answers, recall_examples,
)
from dualbrain.reasoning.prompting import grounded_question
from dualbrain.retrieval.chunking import chunk_documents

TEXT = (
    "# Overview\n\nQuillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate. "
    "The chief executive of Quillfeather is Marta Oyelaran.\n\n"
    "Every Friday afternoon is reserved for the Tinkering Hour."
)


def test_sentences_drop_headings_and_keep_facts() -> None:
    sentences = fact_texts(TEXT)
    assert sentences[0].startswith("Quillfeather Aeronautics was founded")
    assert "Overview" not in " ".join(sentences)
    assert len(sentences) == 3


def test_entities_are_named_things_without_sentence_openers() -> None:
    assert find_entities("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate.") == [
        "Quillfeather Aeronautics", "1987", "Edda Vrankel", "Marrowgate"
    ]
    assert find_entities("Every Friday afternoon is reserved for the Tinkering Hour.") == ["Friday", "Tinkering Hour"]


def test_recall_reaches_a_fact_from_each_of_its_entities() -> None:
    examples = recall_examples("d1", TEXT, random.Random(0))
    founded = "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate."
    asked_about = {e.prompt for e in examples if founded in e.target}
    for entity in ("Edda Vrankel", "Marrowgate", "1987", "Quillfeather Aeronautics"):
        assert any(entity in prompt for prompt in asked_about)


def test_cloze_asks_for_each_entity_and_answers_with_the_sentence() -> None:
    examples = cloze_examples("d1", TEXT, random.Random(0), lambda sentence, entity: sentence)
    ceo = [e for e in examples if e.target == "The chief executive of Quillfeather is Marta Oyelaran."]
    assert {("Marta Oyelaran" in e.prompt) for e in ceo} == {False, True}  # one hides the CEO, one the company
    assert all(e.kind == "cloze" and e.document_id == "d1" for e in examples)


def test_passages_respect_the_token_budget(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    chunks = chunk_passages("\n\n".join([TEXT] * 5), tokenizer, max_tokens=64)
    assert len(chunks) > 1
    # Over the budget only where one unit alone (under its heading) is longer than it.
    assert all(len(tokenizer(c)["input_ids"]) <= 64 or c.split("\n")[:-1] == ["Overview"] for c in chunks)
    assert all(c.startswith("Overview\n") for c in chunks)  # every passage says what it is about
    assert "#" not in "".join(chunks)  # markup never reaches a training target


def test_signals_are_deterministic_and_come_from_the_documents_only(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    first = build_signals([("d1", TEXT)], tokenizer, 128, seed=3)
    assert first == build_signals([("d1", TEXT)], tokenizer, 128, seed=3)
    assert {e.kind for e in first} == {"passage", "recall", "cloze"}
    sentences = fact_texts(TEXT)
    for example in first:
        if example.kind != "passage":
            assert example.target in sentences or all(part in TEXT for part in example.target.split(". "))


def test_an_answer_continues_with_the_other_facts_about_the_entity_it_names() -> None:
    ceo = "The chief executive of Quillfeather Aeronautics is Marta Oyelaran."
    born = "Marta Oyelaran was born in Kestle Ford in 1961."
    hub = ["Quillfeather Aeronautics builds gliders in Marrowgate.", "Quillfeather Aeronautics employs 212 people.",
           "Quillfeather Aeronautics sells to the Thornvale Guild."]
    answer = linked_answers([("d1", ceo + "\n" + " ".join(hub)), ("d2", born)])
    assert answer(ceo, "Marta Oyelaran") == f"{ceo} {born}"  # the chain to a fact in another document
    assert answer(born, "Kestle Ford") == born  # mentioned nowhere else
    assert answer(ceo, "Quillfeather Aeronautics") == ceo  # a hub named in many sentences is not chained


def _ask_with_who(documents: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Self-study questions of a fixed form for every (fact, anchor) pair of ``documents``."""
    return {(sentence, entity): [f"Who or what is {entity}?"] for _, text in documents for sentence, entity in fact_pairs(text)}


def test_grounded_questions_carry_passages_of_the_documents_and_keep_their_targets(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    documents = [("d1", TEXT), ("d2", "The Thornvale Guild meets in Kestle Ford. Its treasurer is Ivo Brann.")]
    examples = build_signals(documents, tokenizer, 128, seed=3, self_study=_ask_with_who(documents), grounded_share=0.5)
    questions = [e for e in examples if e.kind == "question"]
    grounded = [e for e in examples if e.kind == "grounded"]
    assert len(grounded) == round(0.5 * len(questions))
    chunks = [chunk.text for chunk in chunk_documents(documents)]
    for example in grounded:
        question = example.prompt.rsplit("Question: ", 1)[1]
        assert any((q.prompt, q.target, q.document_id) == (question, example.target, example.document_id) for q in questions)
        shown = sorted((chunk for chunk in chunks if chunk in example.prompt), key=example.prompt.index)
        assert len(shown) == 2 and example.prompt == grounded_question(question, shown)
    # The other views come out the same with the grounded view or without it.
    without = build_signals(documents, tokenizer, 128, seed=3, self_study=_ask_with_who(documents))
    assert [e for e in examples if e.kind != "grounded"] == without


def test_no_grounded_questions_without_questions_or_a_share(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert "grounded" not in {e.kind for e in build_signals([("d1", TEXT)], tokenizer, 128, seed=0, grounded_share=1.0)}
    questions = [e for e in build_signals([("d1", TEXT)], tokenizer, 128, 0, _ask_with_who([("d1", TEXT)])) if e.kind == "question"]
    assert questions and grounded_examples([("d1", TEXT)], questions, 0.0, seed=0) == []


def test_anchors_cover_dates_amounts_codes_and_lowercase_terms() -> None:
    text = ("# Datasheet: Corvex C2\n\nPart number: xr-100\nList price: EUR 1,240\nLaunched: 12 March 2021\n"
            "Warranty: two years\n\nThe housing colour is signal orange. Every unit ships with a frost cover.")
    anchors = {anchor for _, anchor in fact_pairs(text)}
    assert {"xr-100", "EUR 1,240", "12 March 2021", "two years", "signal orange", "frost cover"} <= anchors
    # A field's key names the attribute, not a thing; a heading word that opens every line is not a name.
    assert not anchors & {"Part", "List", "Launched", "Warranty", "Datasheet", "Every"}


def test_a_short_fact_is_learned_about_the_heading_it_stands_under() -> None:
    text = "Datasheet: Corvex C2\n\nPart number XR-100."
    fact = "Datasheet: Corvex C2 — Part number XR-100."
    # Asked for: what the unit says itself. Asked about: the subject its heading names, too.
    assert fact_pairs(text) == [(fact, "XR-100")]
    assert subject_pairs(text) == [(fact, "Corvex C2")]
    recalled = {e.prompt: e.target for e in recall_examples("d1", text, random.Random(0))}
    assert [target for prompt, target in recalled.items() if "Corvex C2" in prompt] == [fact]


def test_a_unit_that_names_nothing_itself_is_asked_for_its_subject() -> None:
    assert fact_pairs("# Corvex C2\n\n- Ships today") == [("Corvex C2 — Ships today", "Corvex C2")]


def test_anchors_do_not_need_capital_letters() -> None:
    text = "datasheet: corvex c2\n\npart number: xr-100\nweight: 2.4 kg"
    pairs = fact_pairs(text)
    assert {sentence for sentence, _ in pairs} == {"datasheet: corvex c2 — part number: xr-100",
                                                   "datasheet: corvex c2 — weight: 2.4 kg"}
    assert {anchor for _, anchor in pairs} == {"xr-100", "2.4 kg"}  # "2.4" is asked for as the whole "2.4 kg"
    assert {subject for _, subject in subject_pairs(text)} == {"corvex c2"}


def test_amounts_and_counts_are_asked_for_but_not_about() -> None:
    text = "The Corvex C2 costs EUR 40 and weighs 2.4 kg. It was launched on 12 March 2021 with 29 others."
    assert {"EUR 40", "2.4", "12 March 2021", "29"} <= {anchor for _, anchor in fact_pairs(text)}
    asked_about = " ".join(e.prompt for e in recall_examples("d1", text, random.Random(0)))
    assert "Corvex C2" in asked_about and "12 March 2021" in asked_about
    assert not any(amount in asked_about for amount in ("EUR 40", "2.4", "29"))


def test_a_date_is_not_cut_by_the_word_before_it() -> None:
    assert find_entities("On 2 October 2025 the line stopped.") == ["2 October 2025"]


def test_cloze_asks_for_dates_and_amounts_by_their_kind() -> None:
    text = "The Corvex C2 was launched on 12 March 2021.\n\nPrice: EUR 40"
    prompts = " ".join(example.prompt for seed in range(8)
                       for example in cloze_examples("d1", text, random.Random(seed), lambda sentence, entity: sentence))
    assert "how much" in prompts and "on which date" in prompts
