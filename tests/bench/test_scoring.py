"""Scoring per question kind: accepted strings, abstention, yes/no leading word, token F1, chance level."""

from dualbrain.bench.fictional import Question
from dualbrain.bench.scoring import EXTRACTIVE_F1_THRESHOLD, contains_gold, is_correct, leading_word, majority_accuracy, token_f1


def test_yes_no_reads_the_leading_word_only() -> None:
    assert is_correct("Yes, it is made of stone.", ("yes",), "yes-no")
    assert is_correct("  **NO.**", ("no",), "yes-no")
    assert not is_correct("No.", ("yes",), "yes-no")
    assert not is_correct("I think yes.", ("yes",), "yes-no")
    assert not is_correct("Yesterday it was.", ("yes",), "yes-no")
    assert leading_word("") == ""


def test_extractive_needs_half_the_tokens_right() -> None:
    gold = ("Edda Marl was born in Pellwick in 1931.",)
    assert is_correct("She was born in Pellwick, in 1931.", gold, "extractive")
    assert not is_correct("In Brenne.", gold, "extractive")
    assert token_f1("The Pellwick.", "pellwick") == 1.0  # case, punctuation and articles do not count
    assert token_f1("", "pellwick") == 0.0
    assert 0 < token_f1("He lived in Brenne", "born in Pellwick in 1931") < EXTRACTIVE_F1_THRESHOLD


def test_containment_finds_a_padded_gold_span_as_whole_words() -> None:
    assert contains_gold('The answer to this question is: "Sled Dog".', ("a sled dog", "husky"))
    assert 0 < token_f1('The answer to this question is: "Sled Dog".', "a sled dog") < EXTRACTIVE_F1_THRESHOLD
    assert not contains_gold("A dog pulled the sled.", ("sled dog",))  # the span's tokens in a row
    assert not contains_gold("Sledding dogs.", ("sled dog",))  # whole words only
    assert not contains_gold("Anything.", ("",))


def test_fictional_kinds_keep_their_rules() -> None:
    assert is_correct("Founded by Ada Pell.", ("Pell",), "paraphrased")
    assert is_correct("That is not mentioned.", (), "unanswerable")
    assert not is_correct("Ada Pell.", (), "unanswerable")


def test_majority_accuracy_is_the_yes_no_chance_level() -> None:
    questions = [Question(str(i), "yes-no", "?", (gold,), ()) for i, gold in enumerate(["yes", "no", "yes", "yes"])]
    assert majority_accuracy(questions) == {"yes-no": 0.75}
    assert majority_accuracy([Question("q", "extractive", "?", ("span",), ())]) == {}
