"""`bench perf` on a tiny model: every row measured on the same work, and the shared base left as it was."""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from dualbrain.bench import perf
from dualbrain.bench.perf import LEVERS, PerfConfig, perf_markdown, run_perf
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.reasoning.loader import load_reasoning_network


def test_perf_measures_every_row_on_the_same_work(tiny_model_dir: Path, tmp_path: Path) -> None:
    learn = LearnConfig(train=TrainSettings(batch_size=4), self_study=False)
    report = run_perf(PerfConfig(organisations=1, prompts=2, new_tokens=3, growth=(1, 2)), tiny_model_dir, learn, tmp_path)
    learning = {row["row"]: row for row in report["learning"]}
    assert list(learning) == ["naive", *[f"+ {lever}" for lever in LEVERS], "dualbrain", "ceiling"]
    loop_rows = [row for name, row in learning.items() if name != "ceiling"]
    # Every loop row trains the same examples in the same number of steps, so tokens/s compare like for like.
    assert len({(row["tokens"], row["steps"]) for row in loop_rows}) == 1
    assert learning["ceiling"]["tokens"] <= learning["naive"]["tokens"] and learning["naive"]["x_naive"] == 1.0
    serving = {row["row"]: row for row in report["serving"]}  # no llama.cpp rows: not the bundled default model
    assert [row["tokens"] for row in serving.values()] == [6, 6, 6] and serving["base"]["x_base"] == 1.0
    assert serving["knowledge, unmerged adapter"]["same_answers"] == 1.0  # merging changes speed, not answers
    assert all(row["tokens_per_second"] > 0 for row in report["learning"] + report["serving"])
    assert "| dualbrain |" in perf_markdown(report)
    growth = report["growth"]  # each size learned in its own process, into a new knowledge base
    assert [row["organisations"] for row in growth] == [1, 2] and growth[1]["characters"] > growth[0]["characters"]
    assert all(row["tokens"] > 0 and row["peak_rss_mb"] > 0 for row in growth)
    # The first knowledge base answers in a process of its own (PyTorch only: the tiny model has no GGUF).
    [answering] = report["answering_memory"]
    assert answering["engine"] == "torch" and answering["questions"] == 2 and answering["peak_rss_mb"] > 0
    assert "| torch | 2 |" in perf_markdown(report)


def test_perf_leaves_the_base_model_untouched(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows attach, train, merge and detach knowledge networks; the frozen base must come back bit for bit."""
    loaded = []

    def load_and_keep(model, models_dir):
        reasoning = load_reasoning_network(model, models_dir)
        loaded.append((reasoning.model, {k: v.clone() for k, v in reasoning.model.state_dict().items()}))
        return reasoning

    monkeypatch.setattr(perf, "load_reasoning_network", load_and_keep)
    run_perf(PerfConfig(organisations=1, prompts=1, new_tokens=2, growth=()), tiny_model_dir, LearnConfig(self_study=False), tmp_path)
    model, before = loaded[0]
    assert type(model) is type(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
