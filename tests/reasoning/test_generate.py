"""Batched greedy generation: a shared prompt prefix is read once, and the answers stay those of one prompt at a time."""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.generate import TokenTrace, continue_text, generate_batch, shared_prefix_length
from dualbrain.reasoning.prompting import conversation_prompt

EXAMPLES = [
    {"role": "user", "content": "Quillfeather Aeronautics was founded in 1987 by Edda Vrankel in Marrowgate."},
    {"role": "assistant", "content": "Who founded Quillfeather Aeronautics?"},
]


def test_shared_prefix_length_leaves_a_token_of_every_sequence() -> None:
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5, 6], [1, 2, 3, 4, 7]]) == 3
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the shorter one keeps its last token
    assert shared_prefix_length([[9, 2], [1, 2]]) == 0


def test_batched_generation_with_a_shared_prefix_matches_one_prompt_at_a_time(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    questions = ["The chief executive of Quillfeather is Marta Oyelaran.", "The Heronwing glider has a range of 640 km.",
                 "Who runs the company?", "Tell me about the facts you know. What is the range?"]
    prompts = [conversation_prompt(tokenizer, EXAMPLES + [{"role": "user", "content": q}]) for q in questions]
    rows = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    assert shared_prefix_length(rows) >= 16 and len({len(row) for row in rows}) > 1  # shared part, then padding

    widths: list[tuple[int, int]] = []
    hook = model.register_forward_pre_hook(lambda _, args, kwargs: widths.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    batched = generate_batch(model, tokenizer, prompts, max_new_tokens=8, batch_size=4)
    hook.remove()
    assert widths[0] == (1, shared_prefix_length(rows))  # the prefix is read once for the batch ...
    assert widths[1][1] < max(map(len, rows))  # ... and the batch reads only what follows it

    with torch.no_grad():
        alone = [model.generate(torch.tensor([row]), max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
                 for row in rows]
    expected = [tokenizer.decode(out[0, len(row):], skip_special_tokens=True).strip() for out, row in zip(alone, rows)]
    assert batched == expected


def test_a_trace_holds_the_probability_of_every_token_the_answer_chose(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = conversation_prompt(tokenizer, EXAMPLES[:1])
    trace = TokenTrace(tokenizer)
    generation = continue_text(model, tokenizer, prompt, max_new_tokens=6, trace=trace)
    assert len(trace.ids) == generation.completion_tokens
    row = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.no_grad():  # the same probabilities as reading the answer after the prompt
        probabilities = model(torch.tensor([row + trace.ids])).logits[0, len(row) - 1 : -1].softmax(-1)
    chosen = probabilities[torch.arange(len(trace.ids)), torch.tensor(trace.ids)]
    assert torch.allclose(torch.tensor(trace.probabilities), chosen, atol=1e-4)
    ranked = probabilities.topk(2).indices
    assert trace.ids == ranked[:, 0].tolist() and trace.runner_up == ranked[:, 1].tolist()
    text = trace.text(trace.ids)
    assert text.strip() == generation.text
    second = len(trace.text(trace.ids[:1]))
    assert trace.token_at(0) == 0 and trace.token_at(second) == 1 and trace.token_at(len(text)) is None


def test_a_prompt_that_does_not_fit_the_window_with_its_answer_is_refused(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    window = model.config.max_position_embeddings
    text = " ".join(["Quillfeather"] * (window + 10))
    prompt_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    assert prompt_tokens > window
    with pytest.raises(DualBrainError, match=rf"the prompt \({prompt_tokens} tokens\) and answer \(4 tokens\) do not fit "
                                             rf"the model's window \({window} tokens\)"):
        continue_text(model, tokenizer, text, max_new_tokens=4)
    fitting = tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][: window - 4])
    fitting_tokens = len(tokenizer(fitting, add_special_tokens=False)["input_ids"])
    assert continue_text(model, tokenizer, fitting, max_new_tokens=window - fitting_tokens).prompt_tokens == fitting_tokens
