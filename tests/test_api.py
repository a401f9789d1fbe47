"""The Python API end to end on a tiny model: ingest, learn, publish, ask, and failure safety."""

from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError, NothingToLearn, UnknownKnowledgeBase
from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.reasoning.generate import Generation

FAST = LearnConfig(train=TrainSettings(epochs=1, min_steps=0, batch_size=8, bf16=False))


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n")
    (folder / "b.txt").write_text("The chief executive of Quillfeather is Marta Oyelaran.\n")
    (folder / "empty.txt").write_text("  \n")
    (folder / "tool.exe").write_bytes(b"MZ")
    return folder


@pytest.fixture()
def brain(tmp_path: Path, tiny_model_dir: Path) -> DualBrain:
    return DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)


def test_learn_ingests_reports_bad_files_and_publishes(brain: DualBrain, corpus: Path) -> None:
    report = brain.learn([corpus], FAST)
    assert sorted(d.source_name for d in report.ingest.added) == ["a.md", "b.txt"]
    reasons = sorted(p.reason for p in report.ingest.problems)
    assert len(reasons) == 2 and "no text" in reasons[0] and reasons[1].startswith("unsupported")
    assert report.version.id == "v0001" and len(report.version.document_ids) == 2
    assert {d.status for d in brain.docs()} == {"learned"}
    assert brain.kb.current_version().id == "v0001"
    assert brain.kb.catalog.jobs()[-1].status == "done"


def test_relearning_the_same_files_reports_duplicates(brain: DualBrain, corpus: Path) -> None:
    brain.learn([corpus], FAST)
    again = brain.learn([corpus], FAST)
    assert not again.ingest.added
    assert sum("same content" in p.reason for p in again.ingest.problems) == 2
    assert again.version.id == "v0002"


def test_ask_uses_knowledge_and_plain_mode_matches_base(brain: DualBrain, corpus: Path, tiny_model_dir: Path) -> None:
    plain_before = brain.ask("Who runs Quillfeather?", mode="base", max_new_tokens=8)
    brain.learn([corpus], FAST)
    brain.ask("Who runs Quillfeather?", max_new_tokens=8)
    assert brain.ask("Who runs Quillfeather?", mode="base", max_new_tokens=8) == plain_before


def test_asking_before_learning_explains_what_to_do(brain: DualBrain) -> None:
    with pytest.raises(DualBrainError, match="has not learned anything yet"):
        brain.ask("Who?")


def test_learning_nothing_is_an_error(brain: DualBrain) -> None:
    with pytest.raises(NothingToLearn):
        brain.learn([], FAST)


def test_unknown_knowledge_base(tmp_path: Path) -> None:
    with pytest.raises(UnknownKnowledgeBase):
        DualBrain.open("nope", home=tmp_path)


def test_interrupted_learning_keeps_the_previous_version_serving(
    brain: DualBrain, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain.learn([corpus], FAST)
    answer_before = brain.ask("Who runs Quillfeather?", max_new_tokens=8)
    extra = tmp_path / "extra.md"
    extra.write_text("Quillfeather opened an office in Lunderby in 2021.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dualbrain.api.learn_documents", crash)
    with pytest.raises(KeyboardInterrupt):
        brain.learn([extra], FAST)
    assert brain.kb.current_version().id == "v0001"
    assert [d.status for d in brain.docs() if d.source_name == "extra.md"] == ["pending"]
    assert not any((brain.kb.root / "staging").iterdir())
    assert brain.kb.catalog.jobs()[-1].status == "failed"
    assert brain.ask("Who runs Quillfeather?", max_new_tokens=8) == answer_before


def test_answer_modes_decide_what_enters_the_prompt(brain: DualBrain, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    brain.learn([corpus], FAST)
    prompts = {}

    def capture(model, tokenizer, question, max_new_tokens):
        prompts[mode] = question
        return Generation("ok", 1, 0.0, 0.0)

    monkeypatch.setattr("dualbrain.api.answer", capture)
    for mode in ("knowledge", "base", "rag", "context", "knowledge+rag"):
        brain.ask("Who founded Quillfeather?", mode=mode)
    assert prompts["knowledge"] == prompts["base"] == "Who founded Quillfeather?"  # no document text
    for mode in ("rag", "context", "knowledge+rag"):
        assert "Edda Vrankel" in prompts[mode] and prompts[mode].endswith("Question: Who founded Quillfeather?")
    with pytest.raises(DualBrainError, match="unknown answer mode"):
        brain.ask("Who?", mode="oracle")
    mode = "rag-embed"
    brain.ask("Who founded Quillfeather?", mode="rag", retriever="embed")
    assert "Edda Vrankel" in prompts[mode]
    with pytest.raises(DualBrainError, match="unknown retriever"):
        brain.ask("Who?", mode="rag", retriever="grep")
    mode = "oracle-context"
    brain.generate("Who founded Quillfeather?", mode="context", documents=["Only this text."])
    assert "Only this text." in prompts[mode] and "Edda Vrankel" not in prompts[mode]
    with pytest.raises(DualBrainError, match="only be given in the context mode"):
        brain.generate("Who?", mode="knowledge", documents=["leak"])
