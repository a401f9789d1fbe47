"""Answer a question with whatever model is given: the frozen base alone or base + knowledge.

Greedy decoding, so answers are reproducible; the prompt holds the question only (no document text).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from dualbrain.reasoning.prompting import question_prompt

DEFAULT_MAX_NEW_TOKENS = 64


@torch.inference_mode()
def answer(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, question: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
) -> str:
    """The model's greedy answer to ``question``."""
    encoded = tokenizer(question_prompt(tokenizer, question), return_tensors="pt", add_special_tokens=False)
    output = model.generate(
        **encoded,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer.decode(output[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True).strip()
