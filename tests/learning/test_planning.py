"""What learn, forget and consolidate plan to train, read from a knowledge base on the tiny model."""

from dataclasses import replace
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.learning.planning import plan_consolidating, plan_forgetting, plan_learning
from tests.settings import FAST


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_learning_plans_new_documents_only_and_nothing_when_all_are_held(tmp_path: Path, tiny_model_dir: Path) -> None:
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    brain.learn([_write(tmp_path / "in", "a.md", "Quillfeather was founded by Edda Vrankel.\n")], FAST)
    current = brain.kb.current_version()
    assert plan_learning(brain.kb, current, FAST) is None
    added = brain.add([_write(tmp_path / "in", "b.md", "Brannock makes cheese in Tollan.\n")]).added[0]
    plan = plan_learning(brain.kb, current, FAST)
    assert plan.builds == [([added.id], FAST)] and plan.kept == list(current.shard_ids)


def test_forgetting_retrains_the_shard_without_the_document_with_its_own_configuration(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    recorded = replace(FAST, shard_chars=10_000)
    brain.learn([_write(tmp_path / "in", "a.md", "Quillfeather was founded by Edda Vrankel.\n"),
                 _write(tmp_path / "in", "b.md", "Quillfeather builds gliders in Northfield.\n")], recorded)
    current = brain.kb.current_version()
    (shard_id, doc_ids), = brain.kb.shard_documents(current).items()  # both documents in one shard
    plan = plan_forgetting(brain.kb, current, doc_ids[0])
    assert plan.builds == [([doc_ids[1]], recorded)] and plan.kept == []
    assert plan_forgetting(brain.kb, None, doc_ids[0]) is None


def test_consolidating_plans_nothing_without_a_version_or_for_a_single_shard(tmp_path: Path, tiny_model_dir: Path) -> None:
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    assert plan_consolidating(brain.kb, None, FAST) is None
    brain.learn([_write(tmp_path / "in", "a.md", "Quillfeather was founded by Edda Vrankel.\n")], FAST)
    assert plan_consolidating(brain.kb, brain.kb.current_version(), FAST) is None
