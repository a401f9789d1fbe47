"""The GGUF export in llama.cpp itself, on the real default model: the knowledge changes llama.cpp's logits
as it changes dualbrain's, and both answer alike (llama.cpp runs the bundled Q4_1 GGUF whose dequantised
weights are dualbrain's base model); dualbrain's llama.cpp engine answers with the knowledge too, and records
its tokens' probabilities for the support check."""

from pathlib import Path

import numpy as np
import pytest
import torch
from llama_cpp import Llama

from dualbrain.api import DualBrain
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.reasoning.generate import TokenTrace
from dualbrain.reasoning.llama_cpp import llama_cpp_for
from dualbrain.reasoning.loader import bundled_gguf
from dualbrain.reasoning.prompting import question_prompt
from dualbrain.store import Home

pytestmark = pytest.mark.slow


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))


def test_gguf_knowledge_in_llama_cpp_matches_dualbrain(tmp_path: Path) -> None:
    document = tmp_path / "quillfeather.md"
    document.write_text("Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in the town of Marrowgate. "
                        "The Heronwing glider has a range of 640 km.\n")
    brain = DualBrain.open("q", home=Home(tmp_path / "home"), create=True)
    brain.learn([document], LearnConfig(train=TrainSettings(epochs=2, min_steps=20), self_study=False))
    brain.export(tmp_path / "gguf", "gguf")
    prompt = question_prompt(brain.reasoning.tokenizer, "Who founded Quillfeather Aeronautics?")
    ids = brain.reasoning.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        with brain.answering_model(knowledge=True) as model:
            ours_knowledge = model(torch.tensor([ids])).logits[0].numpy()
        with brain.answering_model(knowledge=False) as model:
            ours_base = model(torch.tensor([ids])).logits[0].numpy()

    def llama_cpp(lora: Path | None) -> Llama:
        return Llama(model_path=str(bundled_gguf()), lora_path=str(lora) if lora else None, logits_all=True,
                     n_ctx=512, n_threads=2, verbose=False)

    theirs = {}
    for name, lora in (("base", None), ("knowledge", tmp_path / "gguf" / "all-shards.gguf")):
        llm = llama_cpp(lora)
        llm.eval(ids)
        theirs[name] = np.array(llm.scores[: len(ids)])
    # What the knowledge changes: the same direction in both engines (the adapter is applied the same way).
    assert _cosine(ours_knowledge - ours_base, theirs["knowledge"] - theirs["base"]) > 0.98
    # Greedy tokens mostly agree; not all: llama.cpp adds the LoRA to Q4_1 weights, and positions where the
    # knowledge leaves two tokens nearly tied flip (34 of 38 agreed on 2026-12-05, with cosine above 0.98).
    assert (ours_knowledge.argmax(-1) == theirs["knowledge"].argmax(-1)).mean() > 0.85
    answer = llm(prompt, max_tokens=24, temperature=0.0)["choices"][0]["text"]
    assert "Edda Vrankel" in answer and "Edda Vrankel" in brain.ask("Who founded Quillfeather Aeronautics?", max_new_tokens=24)
    # dualbrain's own llama.cpp engine: the same knowledge, written as a GGUF LoRA for the routed shards.
    assert "Edda Vrankel" in brain.ask("Who founded Quillfeather Aeronautics?", max_new_tokens=24, engine="llama.cpp")
    assert "Edda Vrankel" not in brain.ask("Who founded Quillfeather Aeronautics?", mode="base", max_new_tokens=24,
                                           engine="llama.cpp")
    # llama.cpp runs the support check's trace as transformers does: the tokens it chose, each with its probability.
    trace = TokenTrace(brain.reasoning.tokenizer)
    plain = llama_cpp_for(brain.reasoning).continue_text(prompt, 8, trace=trace)
    assert trace.text(trace.ids).strip() == plain.text and len(trace.ids) >= plain.completion_tokens  # and the end, if reached
    assert all(0 < p <= 1 for p in trace.probabilities) and trace.runner_up != trace.ids
