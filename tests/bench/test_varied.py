"""The varied benchmark corpus: real documents' forms, every answer readable through ingest, a held-out split,
held-out question wordings."""

import io
import re
import time
import zipfile
from pathlib import Path

import pytest

from dualbrain.bench.report import to_markdown
from dualbrain.bench.runner import BenchConfig, summarise
from dualbrain.bench.scoring import is_correct, mentions_stale
from dualbrain.bench.varied import ABSENT_ATTRIBUTES, DEV_FORMS, HELD_OUT_FORMS, VARIED_KINDS, varied_corpus
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
    first = varied_corpus(4, seed=3)
    time.sleep(2.1)  # Word files' members were dated when written, to two seconds: the same seed gave other bytes
    second = varied_corpus(4, seed=3)
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
    corpus = varied_corpus(2, seed=2, held_out_wordings=True)
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


def _four_word_runs(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[\w'-]+", text.lower())
    return {tuple(words[i:i + 4]) for i in range(len(words) - 3)}


def test_every_question_has_a_held_out_wording_twin_that_is_really_reworded() -> None:
    corpus = varied_corpus(4, seed=5, held_out_wordings=True)
    dev = {q.id: q for q in corpus.questions if q.wording == "dev"}
    held_out = {q.id: q for q in corpus.questions if q.wording == "held-out"}
    assert len(dev) == len(held_out) == 4 * 27 and all("-v" in i for i in dev) and all("-w" in i for i in held_out)
    for question in dev.values():
        twin = held_out[question.id.replace("-v", "-w")]
        same = ("kind", "answers", "gold_documents", "stale", "split")
        assert [getattr(twin, a) for a in same] == [getattr(question, a) for a in same], twin
        assert twin.question != question.question
        # A cheap guard that the twin is reworded, not the template with a word swapped.
        assert not _four_word_runs(twin.question) & _four_word_runs(question.question), (question.question, twin.question)


def test_each_organisation_is_asked_for_four_attributes_no_document_states() -> None:
    corpus = varied_corpus(4, seed=7, held_out_wordings=True)
    for wording in ("dev", "held-out"):
        unanswerable = [q for q in corpus.questions if q.kind == "unanswerable" and q.wording == wording]
        assert len(unanswerable) == 4 * 7 and not any(q.answers or q.gold_documents for q in unanswerable)
    # Drawn per organisation from the pool (by the wording's start), not one fixed set.
    pool = [dev.split("{")[0] for kind in ABSENT_ATTRIBUTES.values() for dev, _ in kind]
    drawn = [frozenset(start for q in corpus.questions if q.id.startswith(f"org{o:02d}-v") and q.kind == "unanswerable"
                       for start in pool if q.question.startswith(start)) for o in range(4)]
    assert all(len(starts) == 4 for starts in drawn) and len(set(drawn)) > 1


def _unzipped(content: str | bytes) -> object:
    """A DOCX as its members' contents: the zip stamps each member with the clock time it was written."""
    if isinstance(content, bytes) and content.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return content


def test_held_out_wordings_change_no_document_and_no_dev_question() -> None:
    plain, both = varied_corpus(4, seed=6), varied_corpus(4, seed=6, held_out_wordings=True)
    assert {n: _unzipped(c) for n, c in plain.documents.items()} == {n: _unzipped(c) for n, c in both.documents.items()}
    assert plain.questions == [q for q in both.questions if q.wording == "dev"]
    assert {q.wording for q in plain.questions} == {"dev"}
    cut = varied_corpus(2, questions_per_organisation=5, seed=6, held_out_wordings=True)
    assert [q.id for q in cut.questions[:10]] == [f"org00-{p}{n}" for p in "vw" for n in range(5)]


def test_held_out_wordings_are_for_the_varied_dataset_only() -> None:
    with pytest.raises(ValueError, match="varied dataset only"):
        BenchConfig(held_out_wordings=True)
    assert BenchConfig(dataset="varied", held_out_wordings=True).held_out_wordings


def test_summary_and_report_give_accuracy_per_wording() -> None:
    row = {"prompt_tokens": 1, "first_token_seconds": 0.1, "total_seconds": 0.1, "split": "dev", "stale": False}
    rows = [{**row, "system": "s", "kind": "paraphrased", "wording": "dev", "correct": True},
            {**row, "system": "s", "kind": "paraphrased", "wording": "held-out", "correct": False},
            {**row, "system": "s", "kind": "unanswerable", "wording": "held-out", "correct": True}]
    summary = summarise(rows, ("s",))
    assert summary["s"]["by_wording"] == {"dev": 1.0, "held-out": 0.0} and "by_split" not in summary["s"]
    assert "by_wording" not in summarise(rows[:1], ("s",))["s"]  # one wording: nothing to set apart
    report = {"summary": summary, "dataset": {"name": "varied", "documents": 1, "questions": 3, "majority_accuracy": {}},
              "base_model": "tiny", "machine": {"cpus": 2, "torch": "x"}, "config": {},
              "learning": {"wall_seconds": 1, "tokens_trained": 1, "corpus_characters": 1, "adapter_bytes": 1},
              "training_data": {"documents": [], "examples_by_kind": {}, "note": ""},
              "learning_curve": {"epochs": []}, "retention": {}}
    markdown = to_markdown(report)
    assert "Held-out wordings" in markdown and "| system | dev | held-out |" in markdown and "| s | 1.00 | 0.00 |" in markdown
