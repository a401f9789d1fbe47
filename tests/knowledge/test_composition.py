"""Attached shards: any subset answers, shards a version dropped come off, and off means the plain model."""

from pathlib import Path

import pytest
import torch

from dualbrain.knowledge.composition import AttachedShards
from dualbrain.knowledge.recipe import SourceDocument, learn_documents
from dualbrain.reasoning.loader import load_reasoning_network
from tests.settings import TWO_EPOCHS

DOCS = {
    "s0001": SourceDocument("d1", "1" * 64, "a.md", "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel."),
    "s0002": SourceDocument("d2", "2" * 64, "b.md", "The Heronwing glider has a range of 640 km."),
}


@pytest.fixture()
def shard_dirs(tiny_model_dir: Path, tmp_path: Path):
    reasoning = load_reasoning_network(tiny_model_dir, tmp_path / "models")
    dirs = {}
    for shard_id, doc in DOCS.items():
        dirs[shard_id] = tmp_path / shard_id
        learn_documents(reasoning, [doc], TWO_EPOCHS, dirs[shard_id])
    return reasoning, dirs


def test_each_subset_of_shards_answers_differently_and_off_is_the_plain_model(shard_dirs) -> None:
    reasoning, dirs = shard_dirs
    ids = reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    shards = AttachedShards(reasoning)
    with torch.no_grad():
        plain = reasoning.model(ids).logits
        outputs = {}
        for subset in (("s0001",), ("s0002",), ("s0001", "s0002")):
            with shards.answering({s: dirs[s] for s in subset}) as model:
                outputs[subset] = model(ids).logits
        with shards.answering({}) as model:
            off = model(ids).logits
    assert len({tuple(o.flatten().tolist()[:8]) for o in outputs.values()}) == 3
    assert torch.equal(off, plain)
    # Both active: LoRA adds both updates, so the change is (close to) the sum of the single changes.
    summed = outputs[("s0001",)] + outputs[("s0002",)] - plain
    assert not torch.allclose(outputs[("s0001", "s0002")], outputs[("s0001",)])
    assert torch.nn.functional.cosine_similarity((outputs[("s0001", "s0002")] - plain).flatten(), (summed - plain).flatten(), dim=0) > 0.5


def test_shards_dropped_by_a_new_version_come_off(shard_dirs) -> None:
    reasoning, dirs = shard_dirs
    ids = reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    shards = AttachedShards(reasoning)
    with torch.no_grad(), shards.answering({"s0002": dirs["s0002"]}) as model:
        only_second = model(ids).logits
    with shards.answering(dirs):
        pass
    shards.keep_only({"s0002"})
    assert set(shards._model.peft_config) == {"s0002"}
    with torch.no_grad(), shards.answering({"s0002": dirs["s0002"]}) as model:
        assert torch.equal(model(ids).logits, only_second)
    shards.keep_only(set())
    assert shards._model is None
    assert not any("lora" in name for name, _ in reasoning.model.named_modules())


def test_dropping_the_first_attached_shard_while_several_were_active(shard_dirs, tmp_path: Path) -> None:
    reasoning, dirs = shard_dirs
    third = tmp_path / "s0003"
    learn_documents(reasoning, [SourceDocument("d3", "3" * 64, "c.md", "Marrowgate has a bell tower.")], TWO_EPOCHS, third)
    ids = reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        plain = reasoning.model(ids).logits
    shards = AttachedShards(reasoning)
    with shards.answering(dirs | {"s0003": third}):
        pass
    shards.keep_only({"s0002", "s0003"})  # s0001 was attached first and is the wrapper's active record
    with torch.no_grad():
        with shards.answering({"s0002": dirs["s0002"], "s0003": third}) as model:
            assert not torch.equal(model(ids).logits, plain)
        with shards.answering({}) as model:
            assert torch.equal(model(ids).logits, plain)


def test_merged_copies_answer_as_the_adapters_do_and_stay_bounded(shard_dirs) -> None:
    reasoning, dirs = shard_dirs
    ids = reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    before = {k: v.clone() for k, v in reasoning.model.state_dict().items()}
    subsets = (("s0001",), ("s0001", "s0002"))
    adapters = AttachedShards(reasoning, merged_copies=0)  # one AttachedShards on a base at a time
    with torch.no_grad():
        expected = {}
        for subset in subsets:
            with adapters.answering({s: dirs[s] for s in subset}) as model:
                expected[subset] = model(ids).logits
        adapters.detach()
        merged = AttachedShards(reasoning, merged_copies=1)
        for subset in subsets:
            with merged.answering({s: dirs[s] for s in subset}) as first:
                assert hasattr(first, "peft_config")  # a set's first question: through the adapters
            with merged.answering({s: dirs[s] for s in subset}) as model:
                assert not hasattr(model, "peft_config")  # asked again: a plain model, no adapter ops per token
                assert torch.allclose(model(ids).logits, expected[subset], atol=1e-5)
            with merged.answering({s: dirs[s] for s in subset}) as again:
                assert again is model  # reused while it is the most recent set
    assert len(merged._merged) == 1
    merged.keep_only({"s0002"})  # the set held s0001, which the new version dropped
    assert not merged._merged
    merged.detach()
    assert all(torch.equal(before[k], v) for k, v in reasoning.model.state_dict().items())
