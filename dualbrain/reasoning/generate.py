"""Generate text with whatever model is given: the frozen base alone or base + knowledge.

Greedy decoding, so output is reproducible. Prompts are generated in left-padded batches (the loader sets
``padding_side="left"``), which on a CPU is several times faster per prompt than one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase, TextStreamer

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
        ).to(model.device)
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


@dataclass(frozen=True)
class Generation:
    """One answer with the figures the benchmark reports."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_seconds: float  # time to first token: reading the prompt + one decoding step
    total_seconds: float
    knowledge_version: str | None = None  # the published version that answered; None: the plain model


class _TimedStreamer(TextStreamer):
    """Notes when generate() emits its first new token (its first put() is the prompt itself) and hands
    each finished piece of answer text to ``on_text`` (for streaming replies)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, on_text: Callable[[str], None] | None) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self._puts = 0
        self._on_text = on_text

    def put(self, value: torch.Tensor) -> None:
        self._puts += 1
        if self._puts == 2 and self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        if self._on_text:
            super().put(value)

    def end(self) -> None:
        if self._on_text:
            super().end()

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text and self._on_text:
            self._on_text(text)


def answer(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    on_text: Callable[[str], None] | None = None,
) -> Generation:
    """The model's greedy answer to ``question`` (the whole user turn), timed; ``on_text`` receives the
    answer piece by piece as it is generated (raw pieces: the returned text is stripped)."""
    return continue_text(model, tokenizer, question_prompt(tokenizer, question), max_new_tokens, on_text)


@torch.inference_mode()
def continue_text(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    on_text: Callable[[str], None] | None = None,
) -> Generation:
    """The greedy continuation of ``text`` taken as the model's whole input (no chat template), timed."""
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    clock = _TimedStreamer(tokenizer, on_text)
    generated = model.generate(
        **encoded,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        streamer=clock,
    )
    finished = time.perf_counter()
    prompt_tokens = encoded["input_ids"].shape[1]
    new_tokens = generated[0, prompt_tokens:]
    completion = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
    first = (clock.first_token_at or finished) - clock.started
    return Generation(completion, prompt_tokens, len(new_tokens), first, finished - clock.started)
