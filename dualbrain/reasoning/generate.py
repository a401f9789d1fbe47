"""Generate text with whatever model is given: the frozen base alone or base + knowledge.

Greedy decoding, so output is reproducible. Prompts are generated in left-padded batches (the loader sets
``padding_side="left"``), which on a CPU is several times faster per prompt than one at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from dualbrain.reasoning.prompting import question_prompt

DEFAULT_MAX_NEW_TOKENS = 64


@torch.inference_mode()
def generate_batch(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 16,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Greedy continuations of ``prompts`` (already formatted model input), in order.

    ``on_batch(done, total)`` is called after each batch, for progress display.
    """
    outputs: list[str] = []
    total_batches = -(-len(prompts) // batch_size)
    for start in range(0, len(prompts), batch_size):
        encoded = tokenizer(
            prompts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
        )
        generated = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        outputs += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        if on_batch:
            on_batch(start // batch_size + 1, total_batches)
    return outputs


def answer(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, question: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
) -> str:
    """The model's greedy answer to ``question``; the prompt holds the question only."""
    return generate_batch(model, tokenizer, [question_prompt(tokenizer, question)], max_new_tokens)[0]
