"""`dualbrain learn` runs unchanged under torchrun: two CPU processes (gloo) train one shard with DDP."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from dualbrain.api import DualBrain


def test_learn_under_torchrun_with_two_processes_publishes_one_valid_version(tmp_path: Path, tiny_model_dir: Path) -> None:
    home = tmp_path / "home"
    document = tmp_path / "acme.md"
    document.write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel. The Heronwing glider flies 640 km.\n")
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    command = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "dualbrain", "learn", "--kb", "acme", "--create",
               "--model", str(tiny_model_dir), "--epochs", "2", str(document)]
    # One thread per process: two processes share the two cores.
    env = os.environ | {"DUALBRAIN_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]

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
