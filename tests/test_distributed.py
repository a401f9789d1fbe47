"""`dualbrain learn` runs unchanged under torchrun: two CPU processes (gloo) train one shard together with
DDP, or, given at least two shards, one shard each alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from dualbrain.api import DualBrain
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings


def _torchrun_learn(home: Path, model_dir: Path, *arguments: str) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    command = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "dualbrain", "learn", "--kb", "acme", "--create",
               "--model", str(model_dir), "--epochs", "2", *arguments]
    # One thread per process: two processes share the two cores.
    env = os.environ | {"DUALBRAIN_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def test_learn_under_torchrun_with_two_processes_publishes_one_valid_version(tmp_path: Path, tiny_model_dir: Path) -> None:
    home = tmp_path / "home"
    document = tmp_path / "acme.md"
    document.write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel. The Heronwing glider flies 640 km.\n")
    _torchrun_learn(home, tiny_model_dir, str(document))

    brain = DualBrain.open("acme", home=home, model=tiny_model_dir)
    documents = brain.kb.documents()
    version = brain.kb.current_version()
    # Only the main process ingested and published: one document, one version, one job.
    assert len(documents) == 1 and documents[0].status == "learned"
    assert version is not None and version.id == "v0001" and version.document_ids == (documents[0].id,)
    assert [job.status for job in brain.kb.catalog.jobs()] == ["done"]
    shard_metrics = version.metrics["shards"][0]
    assert shard_metrics["processes"] == 2 and shard_metrics["steps"] > 0
    # The published shard attaches and changes the answer distribution of the base model.
    ids = brain.reasoning.tokenizer("Who founded Quillfeather?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        with brain.answering_model(knowledge=True) as model:
            with_knowledge = model(ids).logits
        with brain.answering_model(knowledge=False) as model:
            plain = model(ids).logits
    assert (with_knowledge - plain).abs().max().item() > 1e-4


def test_under_torchrun_each_process_trains_whole_shards_alone_as_a_single_process_would(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    documents = tmp_path / "docs"
    documents.mkdir()
    (documents / "a.md").write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowby.\n")
    (documents / "b.md").write_text("The Heronwing glider, built by Quillfeather, flies 640 km on one thermal.\n")
    (documents / "c.md").write_text("Ostra Pellworth leads the Gannetry test range, 14 km north of Marrowby.\n")
    # Three documents of about 75 characters, at most 100 per shard: three shards for two processes.
    _torchrun_learn(tmp_path / "launched", tiny_model_dir, "--shard-chars", "100", str(documents))
    launched = DualBrain.open("acme", home=tmp_path / "launched", model=tiny_model_dir)
    version = launched.kb.current_version()
    assert version is not None and len(version.shard_ids) == 3 and len(version.document_ids) == 3
    assert [shard["processes"] for shard in version.metrics["shards"]] == [1, 1, 1]
    assert [job.status for job in launched.kb.catalog.jobs()] == ["done"]

    # The same documents learned by one process here give the same shards. The reference trains on one
    # thread as each launched process does: with another thread count the sums run in another order, and
    # LoRA+ (B at 4x the learning rate) grows that rounding past any tolerance that would still catch a bug.
    single = DualBrain.open("acme", home=tmp_path / "single", model=tiny_model_dir, create=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single.learn([documents], LearnConfig(train=TrainSettings(epochs=2), shard_chars=100))
    finally:
        torch.set_num_threads(threads)
    reference = single.kb.current_version()
    assert reference is not None
    for shard_id, reference_id in zip(version.shard_ids, reference.shard_ids, strict=True):
        assert launched.kb.catalog.get_shard(shard_id).document_ids == single.kb.catalog.get_shard(reference_id).document_ids
        weights = load_file(launched.kb.shard_dir(shard_id) / "adapter" / "adapter_model.safetensors")
        expected = load_file(single.kb.shard_dir(reference_id) / "adapter" / "adapter_model.safetensors")
        assert weights.keys() == expected.keys()
        for name, tensor in expected.items():
            torch.testing.assert_close(weights[name], tensor, atol=1e-6, rtol=1e-5)
