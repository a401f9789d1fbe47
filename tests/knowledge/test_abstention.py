"""Declined questions are made from the documents' own questions and never decline what the corpus answers."""

import random
from pathlib import Path

from transformers import AutoTokenizer

from dualbrain.bench.scoring import abstains
from dualbrain.knowledge.abstention import declined_questions, near_miss
from dualbrain.knowledge.anchors import fact_pairs
from dualbrain.knowledge.signals import abstention_examples, build_signals

DOCUMENTS = [
    ("overview", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel. Its chief executive is Tomas Reyl."),
    ("corvex", "# Datasheet: Corvex C2\n\nPart number: XR-100\nList price: EUR 1,240\nMaker: Quillfeather Aeronautics"),
    ("lumen", "# Datasheet: Lumen B4\n\nPart number: XR-205\nList price: EUR 980\nMaker: Quillfeather Aeronautics"),
]
ASKED = [
    ("corvex", "Datasheet: Corvex C2 — Part number: XR-100", "XR-100", "What part number does the Corvex C2 have?"),
    ("lumen", "Datasheet: Lumen B4 — List price: EUR 980", "EUR 980", "How much does the Lumen B4 cost?"),
    ("overview", "Its chief executive is Tomas Reyl.", "Tomas Reyl", "Who runs Quillfeather Aeronautics as chief executive?"),
] * 4
CORPUS = "\n".join(text for _, text in DOCUMENTS).lower()


def test_a_near_miss_is_no_known_thing_and_no_typo_of_one() -> None:
    things = ["Corvex C2", "Lumen B4", "Edda Vrankel", "Tomas Reyl"]
    for seed in range(20):
        code = near_miss("Corvex C2", things, random.Random(seed), CORPUS)
        assert code and code.startswith("Corvex C") and code != "Corvex C2"
        name = near_miss("Edda Vrankel", things, random.Random(seed), CORPUS)
        assert name in {"Tomas Vrankel", "Edda Reyl", "Corvex Vrankel", "Edda C2", "Lumen Vrankel", "Edda B4"}


def test_declines_are_questions_of_the_corpus_about_missing_things_or_attributes() -> None:
    examples = abstention_examples(DOCUMENTS, ASKED, share=1.0, seed=0)
    assert examples and {e.kind for e in examples} == {"abstain"}
    asked_questions = {question for *_, question in ASKED}
    for example in examples:
        assert abstains(example.target) and example.prompt not in asked_questions
    unknown = [e for e in examples if "not mentioned" in e.target]
    absent = [e for e in examples if "not stated" in e.target]
    assert unknown and absent
    for example in unknown:  # the thing named in the decline is in the question and in no document
        thing = example.target.removesuffix(" is not mentioned in my documents.")
        assert thing in example.prompt and thing.lower() not in CORPUS


def test_an_attribute_another_thing_has_is_never_declined_for_it() -> None:
    # Both products have a part number and a price: those questions are never asked of the other product.
    declined = declined_questions(ASKED, {"Corvex C2": [ASKED[0][1]], "Lumen B4": [ASKED[1][1], "Lumen B4 — Part number: XR-205"],
                                          "Quillfeather Aeronautics": [ASKED[2][1]]}, CORPUS, share=1.0, seed=3)
    for _, question, decline in declined:
        if "not stated" in decline:
            assert not ("part number" in question and "Lumen B4" in question)
    assert any("Quillfeather Aeronautics" in decline for _, question, decline in declined if "part number" in question)


def test_no_declines_without_a_share_and_the_other_views_stay_the_same(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    self_study = {pair: ["What does the Corvex C2 have?"] for _, text in DOCUMENTS for pair in fact_pairs(text)}
    assert abstention_examples(DOCUMENTS, ASKED, share=0.0, seed=0) == []
    with_declines = build_signals(DOCUMENTS, tokenizer, 128, seed=1, self_study=self_study, abstention_share=0.5)
    without = build_signals(DOCUMENTS, tokenizer, 128, seed=1, self_study=self_study)
    assert "abstain" in {e.kind for e in with_declines}
    assert [e for e in with_declines if e.kind != "abstain"] == without
