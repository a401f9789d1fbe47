"""PEFT export: plain PEFT on the same base gives dualbrain's logits, shard by shard and all shards combined."""

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.composition import AttachedShards
from tests.settings import FAST


@pytest.fixture()
def two_shards(tmp_path: Path, tiny_model_dir: Path) -> DualBrain:
    brain = DualBrain.open("acme", home=tmp_path / "home", model=tiny_model_dir, create=True)
    for name, text in (("a.md", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel."),
                       ("b.md", "The Heronwing glider has a range of 640 km.")):
        (tmp_path / name).write_text(text)
        brain.learn([tmp_path / name], FAST)  # learned at different times: one shard each
    assert len(brain.kb.current_version().shard_ids) == 2
    return brain


def test_exported_adapters_give_dualbrains_logits_in_plain_peft(two_shards: DualBrain, tiny_model_dir: Path, tmp_path: Path) -> None:
    brain = two_shards
    exported = brain.export(tmp_path / "export")
    described = json.loads((tmp_path / "export" / "export.json").read_text())
    assert described == exported and described["version"] == brain.kb.current_version().id
    assert [d["source_name"] for shard in described["shards"] for d in shard["documents"]] == ["a.md", "b.md"]
    ids = brain.reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    shard_dirs = {shard["id"]: brain.kb.shard_dir(shard["id"]) for shard in described["shards"]}
    shards = AttachedShards(brain.reasoning)
    cases = {f"shards/{shard_id}": {shard_id: path} for shard_id, path in shard_dirs.items()}
    cases["all-shards"] = shard_dirs
    with torch.no_grad():
        for adapter, active in cases.items():
            with shards.answering(active) as model:
                expected = model(ids).logits
            plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "export" / adapter).eval()
            assert torch.allclose(plain(ids).logits, expected, atol=1e-5), adapter
    base_logits = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
    assert not torch.allclose(expected, base_logits, atol=1e-3)  # the knowledge does change the logits


def test_export_refuses_an_existing_folder_and_an_unlearned_base(two_shards: DualBrain, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(DualBrainError, match="exists"):
        two_shards.export(tmp_path / "taken")
    empty = DualBrain.open("empty", home=tmp_path / "home", create=True)
    with pytest.raises(DualBrainError, match="nothing to export"):
        empty.export(tmp_path / "none")
    assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".*partial"))
