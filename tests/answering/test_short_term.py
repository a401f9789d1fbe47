"""The two memories: a document answers from its passages (the short-term memory) from the moment it is added,
from the weights alone once a published shard holds it, and from neither once it is forgotten or superseded."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError
from dualbrain.reasoning.prompting import question_prompt
from tests.settings import FAST_SELF_STUDY

FOUNDING = "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel.\n"
DRONE = "The Corvex C3 survey drone weighs 2.4 kg and flies for 41 minutes.\n"
VAULT = "The vault code of the Marrowgate depot is QT-9084; Orla Quennet holds the only key.\n"


@pytest.fixture()
def brain(tmp_path: Path, tiny_model_dir: Path) -> DualBrain:
    return DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)


@pytest.fixture()
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user turn of every answer, as it is framed for the model."""
    seen: list[str] = []

    def capture(tokenizer, question):
        seen.append(question)
        return question_prompt(tokenizer, question)

    monkeypatch.setattr("dualbrain.answering.prompts.question_prompt", capture)
    return seen


def _add(brain: DualBrain, folder: Path, name: str, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return brain.add([folder / name]).added[0].id


def _memories(brain: DualBrain) -> dict[str, str | None]:
    return {view["source_name"]: view["memory"] for view in brain.document_views()}


def test_a_document_answers_from_its_passages_until_a_published_shard_holds_it(
        brain: DualBrain, tmp_path: Path, prompts: list[str]) -> None:
    _add(brain, tmp_path / "docs", "founding.md", FOUNDING)
    with pytest.raises(DualBrainError, match="has not learned anything yet"):  # the weights alone know nothing yet
        brain.ask("Who founded Quillfeather?", short_term=False)
    answer = brain.generate("Who founded Quillfeather?", max_new_tokens=4)
    assert answer.memory == "short-term" and answer.knowledge_version is None
    assert "Edda Vrankel" in prompts[-1] and prompts[-1].endswith("Question: Who founded Quillfeather?")
    assert brain.generate("What is the derivative of sin(x)?", max_new_tokens=4).memory is None  # about no document
    assert prompts[-1] == "What is the derivative of sin(x)?"
    assert _memories(brain) == {"founding.md": "short-term"}

    brain.learn([], FAST_SELF_STUDY)
    answer = brain.generate("Who founded Quillfeather?", max_new_tokens=4, check=False)
    assert answer.memory == "knowledge" and answer.knowledge_version == "v0001"
    assert prompts[-1] == "Who founded Quillfeather?"  # in the weights: nothing in the prompt any more
    assert _memories(brain) == {"founding.md": "weights"}

    _add(brain, tmp_path / "more", "drone.md", DRONE)
    answer = brain.generate("How much does the Corvex C3 weigh?", max_new_tokens=4)
    assert answer.memory == "short-term" and answer.knowledge_version == "v0001"
    # Only the documents no shard holds are read: the learned one answers from the weights.
    assert "Corvex C3" in prompts[-1] and "Edda Vrankel" not in prompts[-1]
    assert brain.generate("Who founded Quillfeather?", max_new_tokens=4, check=False).memory == "knowledge"
    assert _memories(brain) == {"founding.md": "weights", "drone.md": "short-term"}
    summary = brain.summary()
    assert (summary["in_weights"], summary["learning"], summary["short_term"]) == (1, 0, 1)


def test_weights_only_answers_never_read_passages(brain: DualBrain, tmp_path: Path, prompts: list[str]) -> None:
    _add(brain, tmp_path / "docs", "founding.md", FOUNDING)
    brain.learn([], FAST_SELF_STUDY)
    _add(brain, tmp_path / "more", "drone.md", DRONE)
    answer = brain.generate("How much does the Corvex C3 weigh?", max_new_tokens=4, short_term=False)
    assert answer.memory != "short-term" and prompts[-1] == "How much does the Corvex C3 weigh?"


def test_documents_being_learned_show_the_jobs_progress(brain: DualBrain, tmp_path: Path) -> None:
    _add(brain, tmp_path / "docs", "founding.md", FOUNDING)
    brain.learn([], FAST_SELF_STUDY)
    _add(brain, tmp_path / "more", "drone.md", DRONE)
    during: list[list[dict]] = []
    brain.learn([], FAST_SELF_STUDY, on_epoch_end=lambda epoch, model: during.append(brain.document_views()))
    [(founding, drone)] = during
    assert founding["memory"] == "weights" and drone["memory"] == "learning"  # only what the running job trains
    assert drone["progress"]["phase"] == "training" and 0 < drone["progress"]["step"] <= drone["progress"]["total_steps"]
    assert set(drone["progress"]) == {"phase", "step", "total_steps", "shard", "shards", "eta_seconds"}
    assert _memories(brain) == {"founding.md": "weights", "drone.md": "weights"}


def test_a_forgotten_document_is_answered_by_neither_memory(brain: DualBrain, tmp_path: Path, prompts: list[str]) -> None:
    _add(brain, tmp_path / "docs", "founding.md", FOUNDING)
    learned_secret = _add(brain, tmp_path / "docs", "vault.md", VAULT)
    brain.learn([], FAST_SELF_STUDY)
    unlearned_secret = _add(brain, tmp_path / "more", "drone.md", DRONE)
    question = {learned_secret: "What is the vault code of the Marrowgate depot QT-9084?",
                unlearned_secret: "How much does the Corvex C3 weigh?"}
    assert brain.generate(question[unlearned_secret], max_new_tokens=4).memory == "short-term"
    for doc_id in (learned_secret, unlearned_secret):
        brain.forget(doc_id)
    for doc_id, asked in question.items():
        answer = brain.generate(asked, max_new_tokens=4, check=False)
        assert answer.memory != "short-term" and prompts[-1] == asked  # no passage of it in the prompt
        routed = brain.route(asked)  # no shard that answers ever learned it
        assert all(doc_id not in brain.kb.catalog.get_shard(shard_id).document_ids for shard_id in routed)
    assert _memories(brain) == {"founding.md": "weights"}


def test_a_new_edition_answers_from_the_short_term_memory_not_the_old_shard(
        brain: DualBrain, tmp_path: Path, prompts: list[str]) -> None:
    _add(brain, tmp_path / "v1", "fleet.md", "The Corvex C3 survey drone weighs 2.4 kg.\n")
    brain.learn([], FAST_SELF_STUDY)
    _add(brain, tmp_path / "v2", "fleet.md", "The Corvex C3 survey drone weighs 3.1 kg.\n")  # same name: a new edition
    answer = brain.generate("How much does the Corvex C3 weigh?", max_new_tokens=4)
    assert answer.memory == "short-term" and "3.1 kg" in prompts[-1] and "2.4 kg" not in prompts[-1]
    assert [view["memory"] for view in brain.document_views()] == [None, "short-term"]  # the old edition: on its way out


def test_a_document_withdrawn_while_a_learn_trains_it_stays_withdrawn(brain: DualBrain, tmp_path: Path) -> None:
    doc_id = _add(brain, tmp_path / "docs", "drone.md", DRONE)
    brain.learn([], FAST_SELF_STUDY, on_epoch_end=lambda epoch, model: brain.withdraw(doc_id))  # the server's DELETE
    assert brain.kb.current_version().document_ids == (doc_id,)  # the learn had planned it, and published
    [view] = brain.document_views()
    assert view["status"] == "forgetting" and view["memory"] is None
    assert brain.generate("How much does the Corvex C3 weigh?", max_new_tokens=4).memory is None
