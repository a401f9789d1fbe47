"""One sentence splitter for training views and retrieval chunks."""

from dualbrain.ingest.sentences import sentences


def test_splits_sentences_and_lines_but_not_titles() -> None:
    text = "The head is Dr. Kasimir Oduya. He joined in 2020!\n- A list item\n\nNext paragraph? Yes."
    assert sentences(text) == [
        "The head is Dr. Kasimir Oduya.", "He joined in 2020!", "- A list item", "Next paragraph?", "Yes."
    ]


def test_lowercase_after_a_full_stop_continues_the_sentence() -> None:
    assert sentences("Version 2. of the plan stands.") == ["Version 2. of the plan stands."]
