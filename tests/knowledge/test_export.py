"""PEFT export: plain PEFT on the same base gives dualbrain's logits, shard by shard and all shards combined."""

import json
from pathlib import Path

import pytest
import torch
from gguf import GGUFReader
from peft import PeftModel
from safetensors.torch import load_file
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


def test_gguf_export_names_every_lora_pair_after_the_base_tensors(two_shards: DualBrain, tmp_path: Path) -> None:
    """llama.cpp finds a LoRA pair by its base tensor's GGUF name; query/key B rows are in llama.cpp's rotary order."""
    exported = two_shards.export(tmp_path / "gguf", "gguf")
    folder = tmp_path / "gguf"
    assert exported["format"] == "gguf" and (folder / "all-shards.gguf").is_file()
    assert sorted(p.name for p in (folder / "shards").iterdir()) == [f"{s['id']}.gguf" for s in exported["shards"]]
    reader = GGUFReader(folder / exported["shards"][0]["adapter"])
    assert reader.fields["general.type"].contents() == "adapter" and reader.fields["adapter.type"].contents() == "lora"
    tensors = {t.name: t for t in reader.tensors}
    config = two_shards.reasoning.model.config
    # 2 layers × 7 projections × (A, B)
    assert len(tensors) == config.num_hidden_layers * 7 * 2
    assert {"blk.0.attn_q.weight.lora_a", "blk.1.ffn_down.weight.lora_b"} <= tensors.keys()
    shard = load_file(two_shards.kb.shard_dir(exported["shards"][0]["id"]) / "adapter" / "adapter_model.safetensors")
    q_b = shard["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    written = torch.from_numpy(tensors["blk.0.attn_q.weight.lora_b"].data.copy()).reshape(q_b.shape)
    assert not torch.equal(written, q_b) and torch.equal(written.sort(dim=0).values, q_b.sort(dim=0).values)  # same rows, reordered
    v_b = shard["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]
    assert torch.equal(torch.from_numpy(tensors["blk.0.attn_v.weight.lora_b"].data.copy()).reshape(v_b.shape), v_b)


def test_export_refuses_an_unknown_format(two_shards: DualBrain, tmp_path: Path) -> None:
    with pytest.raises(DualBrainError, match="unknown export format"):
        two_shards.export(tmp_path / "x", "onnx")
    assert not (tmp_path / "x").exists()
