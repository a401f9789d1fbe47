"""Generate text with whatever model is given: the frozen base alone or base + knowledge.

Greedy decoding, so output is reproducible. Many prompts are generated in batches (padding placed after
their shared prefix), which on a CPU is several times faster per prompt than one at a time. A
:class:`TokenTrace` records how sure the model was of each token it chose (the support check reads it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import LogitsProcessorList, PreTrainedTokenizerBase, TextStreamer

from dualbrain.errors import DualBrainError
from dualbrain.reasoning.prompting import question_prompt

DEFAULT_MAX_NEW_TOKENS = 64


def context_window(model: nn.Module) -> int:
    """The most tokens ``model`` reads and writes in one sequence."""
    return int(getattr(model.config, "max_position_embeddings", 2048))


def require_window(prompt_tokens: int, max_new_tokens: int, window: int) -> None:
    """Refuse a prompt that does not fit the model's window with its answer: past the positions it was trained on
    a model writes nonsense, or fails deep inside, instead of saying why."""
    if prompt_tokens + max_new_tokens > window:
        raise DualBrainError(f"the prompt ({prompt_tokens} tokens) and answer ({max_new_tokens} tokens) do not fit "
                             f"the model's window ({window} tokens); ask a shorter question")


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

    Reading the prompts is most of the work (on a CPU it is compute-bound), so as little is read as
    possible: batches are made of prompts of similar length (less padding), and the tokens that every
    prompt of a batch starts with (a system turn, worked examples) are read once for the batch, not once
    per prompt: each prompt continues from their keys and values. The model input is token for token the
    same. Prompts with different worked examples are best generated in separate calls, so that batches
    share them. ``on_batch(done, total)`` is called after each batch, for progress display.
    """
    rows = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    order = sorted(range(len(rows)), key=lambda index: len(rows[index]))
    outputs: dict[int, str] = {}
    total_batches = -(-len(prompts) // batch_size)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        generated = _generate_rows(model, tokenizer, [rows[index] for index in batch], max_new_tokens)
        texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
        outputs.update((index, text.strip()) for index, text in zip(batch, texts))
        if on_batch:
            on_batch(start // batch_size + 1, total_batches)
    return [outputs[index] for index in range(len(prompts))]


def shared_prefix_length(sequences: list[list[int]]) -> int:
    """The length of the longest prefix common to all ``sequences`` that leaves at least one token of each."""
    length = min(len(sequence) for sequence in sequences) - 1
    for sequence in sequences[1:]:
        length = next((i for i in range(length) if sequence[i] != sequences[0][i]), length)
    return max(length, 0)


# Below this many shared tokens a separate pass over the prefix costs more than it saves.
_MIN_SHARED_PREFIX = 16


def _generate_rows(model: nn.Module, tokenizer: PreTrainedTokenizerBase, rows: list[list[int]], max_new_tokens: int) -> torch.Tensor:
    """The new tokens generated after each of ``rows`` (token ids), as one batch.

    Each row is laid out as [shared prefix | padding | rest]: the prefix's keys and values are computed once
    and repeated for every row, the padding is masked, and positions count real tokens only.
    """
    shared = shared_prefix_length(rows) if len(rows) > 1 else 0
    shared = shared if shared >= _MIN_SHARED_PREFIX else 0
    width = max(len(row) for row in rows) - shared
    input_ids = torch.full((len(rows), shared + width), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for i, row in enumerate(rows):
        input_ids[i, :shared], attention_mask[i, :shared] = torch.tensor(row[:shared]), 1
        rest = len(row) - shared
        input_ids[i, shared + width - rest :], attention_mask[i, shared + width - rest :] = torch.tensor(row[shared:]), 1
    input_ids, attention_mask = input_ids.to(model.device), attention_mask.to(model.device)
    extra = {}
    if shared:
        cache = model(input_ids=input_ids[:1, :shared], use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(len(rows))
        extra["past_key_values"] = cache
    generated = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )
    return generated[:, input_ids.shape[1] :]


@dataclass(frozen=True)
class Generation:
    """One answer with the figures the benchmark reports."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_seconds: float  # time to first token: reading the prompt + one decoding step
    total_seconds: float
    knowledge_version: str | None = None  # the published version that answered; None: the plain model
    withheld: str | None = None  # what the model answered, where the support check declined it (see knowledge/support.py)
    memory: str | None = None  # where the knowledge came from: "knowledge" (weights), "short-term" or "both"; None: none


class TokenTrace:
    """The tokens a greedy generation chose, the probability the model gave each and the token it ranked
    second there, recorded as it runs.

    A logits processor for both engines (transformers' ``generate`` and llama.cpp's take the same call):
    greedy decoding picks the highest-scoring token, so the processor sees the choice before it is made and
    leaves the scores as they are."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self._tokenizer = tokenizer
        self.ids: list[int] = []
        self.probabilities: list[float] = []
        self.runner_up: list[int] = []

    def __call__(self, input_ids, scores):  # torch tensors (batch × vocabulary) or one numpy row (llama.cpp)
        row = torch.as_tensor(scores).reshape(-1, scores.shape[-1])[0].float()
        best = row.softmax(-1).topk(2)
        self.ids.append(int(best.indices[0]))
        self.probabilities.append(float(best.values[0]))
        self.runner_up.append(int(best.indices[1]))
        return scores

    def text(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def token_at(self, offset: int) -> int | None:
        """The position of the token that writes character ``offset`` of the generated text (as decoded,
        special tokens skipped); None where the text is not that long."""
        return next((at for at in range(len(self.ids)) if len(self.text(self.ids[: at + 1])) > offset), None)


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
    trace: TokenTrace | None = None,
) -> Generation:
    """The greedy continuation of ``text`` taken as the model's whole input (no chat template), timed;
    ``trace`` records the tokens' probabilities as they are chosen."""
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    require_window(encoded["input_ids"].shape[1], max_new_tokens, context_window(model))
    clock = _TimedStreamer(tokenizer, on_text)
    generated = model.generate(
        **encoded,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        streamer=clock,
        logits_processor=LogitsProcessorList([trace]) if trace else None,
    )
    finished = time.perf_counter()
    prompt_tokens = encoded["input_ids"].shape[1]
    new_tokens = generated[0, prompt_tokens:]
    completion = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
    first = (clock.first_token_at or finished) - clock.started
    return Generation(completion, prompt_tokens, len(new_tokens), first, finished - clock.started)
