"""Learning trains only the knowledge network, saves standard PEFT files, and never touches the base."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dualbrain.errors import DualBrainError, IncompatibleKnowledge
from dualbrain.knowledge.composition import AttachedShards
from dualbrain.knowledge.network import LoraSettings
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.recipe import DRAFTS_FILE, SourceDocument, learn_documents, self_study_drafts
from dualbrain.knowledge.shard_format import read_manifest
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.reasoning.loader import load_reasoning_network
from tests.settings import TWO_EPOCHS

DOCS = [SourceDocument("d1", "0" * 64, "a.md", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate.")]


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


@pytest.fixture()
def reasoning(tiny_model_dir: Path, tmp_path: Path):
    return load_reasoning_network(tiny_model_dir, tmp_path / "models")


def test_base_weights_unchanged_and_module_tree_restored(reasoning, tmp_path: Path) -> None:
    before = _state(reasoning.model)
    modules_before = [name for name, _ in reasoning.model.named_modules()]
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path)
    after = reasoning.model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [name for name, _ in reasoning.model.named_modules()] == modules_before
    assert all(not p.requires_grad for p in reasoning.model.parameters())


def test_saved_version_is_a_portable_peft_adapter(reasoning, tmp_path: Path) -> None:
    metrics = learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path)
    adapter = tmp_path / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert not Path(config["base_model_name_or_path"]).is_absolute()
    for written in tmp_path.rglob("*"):
        if written.is_file() and written.suffix in {".json", ".md"}:
            assert str(tmp_path) not in written.read_text() and str(Path.home()) not in written.read_text()
    assert load_file(adapter / "adapter_model.safetensors")  # safetensors, not pickle
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))
    manifest = read_manifest(tmp_path)
    assert manifest["base_identity"] == reasoning.identity
    assert manifest["documents"] == [{"id": "d1", "sha256": "0" * 64, "source_name": "a.md"}]
    assert manifest["metrics"] == metrics and metrics["tokens_trained"] > 0


def test_no_knowledge_logits_are_bit_identical_to_the_plain_model(reasoning, tmp_path: Path) -> None:
    ids = reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        plain = reasoning.model(ids).logits
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path)
    shards = AttachedShards(reasoning)
    with torch.no_grad():
        with shards.answering({"s0001": tmp_path}) as with_knowledge:
            knowing = with_knowledge(ids).logits
        with shards.answering({}) as switched_off:
            disabled = switched_off(ids).logits
    assert not torch.equal(plain, knowing)  # the knowledge network does change the output …
    assert torch.equal(plain, disabled)  # … and switched off, the output is the plain model's, bit for bit
    shards.detach()
    with torch.no_grad():
        assert torch.equal(plain, reasoning.model(ids).logits)


def test_learning_is_deterministic_for_a_seed(reasoning, tmp_path: Path) -> None:
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path / "a")
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path / "b")
    first = load_file(tmp_path / "a" / "adapter" / "adapter_model.safetensors")
    second = load_file(tmp_path / "b" / "adapter" / "adapter_model.safetensors")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_knowledge_for_another_base_model_is_refused(reasoning, other_tiny_model_dir: Path, tmp_path: Path) -> None:
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path)
    other = load_reasoning_network(other_tiny_model_dir, tmp_path / "models")
    with pytest.raises(IncompatibleKnowledge, match="trained on base model"):
        with AttachedShards(other).answering({"s0001": tmp_path}):
            pass


def test_a_damaged_shard_is_a_clear_error(reasoning, tmp_path: Path) -> None:
    learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    for broken in (tmp_path, tmp_path / "missing"):
        with pytest.raises(DualBrainError, match="unreadable"):
            with AttachedShards(reasoning).answering({"s0001": broken}):
                pass


def test_config_round_trips_through_the_manifest(reasoning, tmp_path: Path) -> None:
    config = LearnConfig(LoraSettings(b_lr_ratio=4.0), TrainSettings(epochs=3, seed=7), shard_chars=1234, relation_wordings=False)
    learn_documents(reasoning, DOCS, replace(config, self_study=False), tmp_path)
    assert LearnConfig.from_dict(read_manifest(tmp_path)["config"]) == replace(config, self_study=False)


def test_a_shard_from_before_lora_plus_and_the_grounded_abstain_updates_and_wordings_options_is_rebuilt_without_them() -> None:
    recorded = replace(LearnConfig(LoraSettings(b_lr_ratio=4.0)), abstention_share=0.5, newer_facts_win=True,
                       relation_wordings=True).to_dict()
    del recorded["lora"]["b_lr_ratio"], recorded["grounded_share"], recorded["abstention_share"], recorded["newer_facts_win"]
    del recorded["relation_wordings"]
    assert LearnConfig.from_dict(recorded) == replace(LearnConfig(LoraSettings(b_lr_ratio=1.0)), grounded_share=0.0,
                                                      abstention_share=0.0, newer_facts_win=False, relation_wordings=False)
    with pytest.raises(ValueError, match="grounded share"):
        LearnConfig(grounded_share=1.5)
    with pytest.raises(ValueError, match="abstention share"):
        LearnConfig(abstention_share=-0.1)


def test_self_study_drafts_are_cached_per_document_and_tied_to_the_base(reasoning, tmp_path: Path, monkeypatch) -> None:
    cache = lambda doc_id: tmp_path / "derived" / doc_id  # noqa: E731
    first = self_study_drafts(reasoning, DOCS, cache)
    assert first and (tmp_path / "derived" / "d1" / DRAFTS_FILE).is_file()
    asked = []
    monkeypatch.setattr("dualbrain.knowledge.recipe.draft_questions", lambda r, pairs, *_: asked.append(r) or [["?"]] * len(pairs))
    assert self_study_drafts(reasoning, DOCS, cache) == first and not asked  # read back, the model not asked
    other_base = replace(reasoning, identity="another-model")
    assert self_study_drafts(other_base, DOCS, cache) != first and asked == [other_base]


def test_with_newer_facts_winning_the_drafts_and_views_are_made_from_the_documents_as_of_now(reasoning, tmp_path: Path) -> None:
    sheet = SourceDocument("sheet", "0" * 64, "sheet.md", "# Datasheet: Corvex C2\n\nList price: EUR 649\n")
    memo = SourceDocument("memo", "1" * 64, "memo.md", "# Memo\n\nThe price of the Corvex C2 is now EUR 679.\n")
    config = replace(LearnConfig(train=TrainSettings(epochs=1)), newer_facts_win=True)
    learn_documents(reasoning, [sheet, memo], config, tmp_path, drafts_cache=lambda doc_id: tmp_path / "drafts" / doc_id)
    drafted = json.loads((tmp_path / "drafts" / "sheet" / DRAFTS_FILE).read_text())["pairs"]
    assert drafted and all("EUR 679" in fact and "EUR 649" not in fact for fact, _ in drafted)


def test_a_distilled_learn_reports_the_teachers_reading_and_records_its_weight(reasoning, tmp_path: Path) -> None:
    phases = []
    config = replace(TWO_EPOCHS, train=replace(TWO_EPOCHS.train, distillation=0.5))
    metrics = learn_documents(reasoning, DOCS, config, tmp_path, on_progress=lambda update: phases.append(update.phase))
    assert metrics["teacher_tokens"] > 0 and "teacher" in phases and phases.index("teacher") < phases.index("training")
    assert LearnConfig.from_dict(read_manifest(tmp_path)["config"]).train.distillation == 0.5
    undistilled = learn_documents(reasoning, DOCS, TWO_EPOCHS, tmp_path / "plain")
    assert undistilled["teacher_tokens"] == 0 and undistilled["tokens_trained"] == metrics["tokens_trained"]
