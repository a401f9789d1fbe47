"""The varied benchmark corpus: real documents' forms, every answer readable through ingest, a held-out split."""

from pathlib import Path

from dualbrain.bench.runner import summarise
from dualbrain.bench.scoring import is_correct, mentions_stale
from dualbrain.bench.varied import DEV_FORMS, HELD_OUT_FORMS, VARIED_KINDS, varied_corpus
from dualbrain.ingest import extract


def write(corpus, directory: Path) -> dict[str, str]:
    """Every document written to disk and read back through the product's own readers."""
    texts = {}
    for name, content in corpus.documents.items():
        path = directory / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        texts[name] = extract(path).text
    return texts


def test_corpus_is_seeded_with_every_kind_and_format() -> None:
    first, second = varied_corpus(4, seed=3), varied_corpus(4, seed=3)
    assert first.documents == second.documents and first.questions == second.questions
    assert varied_corpus(4, seed=4).documents != first.documents
    assert {q.kind for q in first.questions} == set(VARIED_KINDS)
    suffixes = {Path(name).suffix for name in varied_corpus(8, seed=0).documents}
    assert suffixes == {".md", ".txt", ".html", ".pdf", ".docx"}


def test_held_out_forms_are_never_dev_forms() -> None:
    for kind in DEV_FORMS:
        assert not set(DEV_FORMS[kind]) & set(HELD_OUT_FORMS[kind])
    corpus = varied_corpus(4, seed=0)
    assert {q.split for q in corpus.questions} == {"dev", "held-out"}
    for question in corpus.questions:  # an organisation's questions share its split
        assert question.split == ("dev" if int(question.id[3:5]) % 2 == 0 else "held-out")


def test_every_answer_is_in_its_gold_documents_as_ingest_reads_them(tmp_path: Path) -> None:
    corpus = varied_corpus(4, seed=1)
    texts = write(corpus, tmp_path)
    for question in corpus.questions:
        gold = " ".join(texts[name] for name in question.gold_documents)
        assert all(answer in gold for answer in question.answers), question
        # An updated fact's old value still stands in an earlier document: only the newer one may win.
        assert all(stale in " ".join(texts.values()) for stale in question.stale)


def test_questions_are_worded_unlike_the_documents(tmp_path: Path) -> None:
    corpus = varied_corpus(2, seed=2)
    documents = " ".join(write(corpus, tmp_path).values()).lower()
    for question in corpus.questions:
        assert question.question.lower().rstrip("?") not in documents


def test_an_updated_question_is_wrong_when_the_old_value_comes_first() -> None:
    assert is_correct("The chief executive is Ada Pell.", ("Ada Pell",), "updated", stale=("Bob Rann",))
    # An answer is read as its first value: naming the predecessor after the new one answers the new one.
    assert is_correct("Ada Pell succeeded Bob Rann.", ("Ada Pell",), "updated", stale=("Bob Rann",))
    assert not is_correct("Bob Rann, since replaced by Ada Pell.", ("Ada Pell",), "updated", stale=("Bob Rann",))
    assert not is_correct("The chief executive is Bob Rann.", ("Ada Pell",), "updated", stale=("Bob Rann",))
    assert mentions_stale("It costs EUR 449 (EUR 679 from May).", ("449",), ("679",))
    assert not mentions_stale("It costs EUR 679, up from EUR 449.", ("449",), ("679",))


def test_summary_reports_splits_and_stale_answers_apart() -> None:
    row = {"prompt_tokens": 1, "first_token_seconds": 0.1, "total_seconds": 0.1}
    rows = [{**row, "system": "s", "kind": "paraphrased", "split": "dev", "correct": True, "stale": False},
            {**row, "system": "s", "kind": "paraphrased", "split": "held-out", "correct": False, "stale": False},
            {**row, "system": "s", "kind": "updated", "split": "held-out", "correct": False, "stale": True}]
    summary = summarise(rows, ("s",))["s"]
    assert summary["by_split"] == {"dev": 1.0, "held-out": 0.0}
    assert summary["stale"] == 1.0
