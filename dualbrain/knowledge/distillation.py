"""Token-level distillation from the in-context teacher (issue 19, lever (a)).

The frozen reasoning network answers far better with the passage that holds a fact in its prompt (the
``context`` oracle) than without; the knowledge network has to answer without it. So the teacher is the
frozen model itself, reading a chat example's question after the passages that hold the example's target
(found by BM25 with the target as the query, framed as the ``knowledge+rag`` prompt frames passages). At
every target position its top-k next-token log-probabilities are kept, computed once before training; the
student, with no passage in its prompt, learns that distribution next to the gold target (see
``loss.token_losses``). It learns not only the fact's tokens but how the model that reads the fact weighs
the alternatives at each of them (Cartridges, arXiv 2506.06266: +8.6 chrF over next-token training on the
same data; Knowledge Modules, arXiv 2503.08727).

Distilled are the views whose target answers a question from the documents: ``recall``, ``cloze`` and
``question``. Not ``passage`` (no question: the text is the teacher's own prompt), ``grounded`` (its prompt
holds passages already) nor ``abstain`` (a teacher that sees a near miss's neighbours has no reason to decline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from dualbrain.knowledge.signals import TrainingExample
from dualbrain.knowledge.loss import IGNORE_INDEX, predicts_target
from dualbrain.knowledge.trainer import TrainSettings, collate_rows, processes, tokenize_example, training_copy
from dualbrain.reasoning.prompting import grounded_question, question_prompt
from dualbrain.retrieval.bm25 import BM25Retriever
from dualbrain.retrieval.chunking import chunk_documents

DISTILLED_KINDS = frozenset({"recall", "cloze", "question"})
TOP_K = 16  # the teacher's choices kept per position: the rest of its mass is a long, flat tail
_PASSAGES = 2  # as many as the grounded view shows: the fact's own passage and its nearest neighbour
_BATCH = 8
_PROMPT_ROOM = 4  # the teacher's sequences may be this many times a training example's longest (passages)


@dataclass(frozen=True)
class TeacherTargets:
    """The teacher's top-k next-token choices at each target token of one example, in target order."""

    token_ids: torch.Tensor  # (target tokens, TOP_K), long
    log_probs: torch.Tensor  # (target tokens, TOP_K), float32, under the teacher's full softmax


def teach(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    documents: list[tuple[str, str]],
    examples: list[TrainingExample],
    settings: TrainSettings,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[list[TeacherTargets | None], int]:
    """The in-context teacher's targets for ``examples`` (pairs of id and text in ``documents``), aligned
    with them, and how many tokens the teacher read for them; computed on the frozen ``base`` laid out as
    training lays it out, so at training's speed."""
    device = processes().device
    teacher = training_copy(base, settings, device).to(device)
    return teacher_targets(teacher, tokenizer, examples, teacher_prompts(documents, examples),
                           _PROMPT_ROOM * settings.max_tokens, settings.bf16, on_batch)


def teacher_prompts(documents: list[tuple[str, str]], examples: list[TrainingExample]) -> list[str | None]:
    """For each example, the question as the teacher reads it (after the passages that hold its target), or
    None where the example is not distilled."""
    retriever = BM25Retriever(chunk_documents(documents))
    return [
        grounded_question(example.prompt, [chunk.text for chunk in retriever.retrieve(example.target, _PASSAGES)])
        if example.kind in DISTILLED_KINDS else None
        for example in examples
    ]


@torch.no_grad()
def teacher_targets(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[TrainingExample],
    prompts: list[str | None],
    max_tokens: int,
    bf16: bool,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[list[TeacherTargets | None], int]:
    """The teacher's top-k choices over each example's target after the example's teacher prompt — None where
    the prompt is None or the two together exceed ``max_tokens`` — and the tokens it read. ``model`` is the
    frozen base, with no knowledge attached."""
    rows = {}
    for index, (example, prompt) in enumerate(zip(examples, prompts)):
        if prompt is not None:
            row = tokenize_example(replace(example, prompt=prompt), tokenizer, max_tokens + 1)  # one over: it did not fit
            if len(row["input_ids"]) <= max_tokens:
                rows[index] = row
    found: list[TeacherTargets | None] = [None] * len(examples)
    order = sorted(rows, key=lambda index: len(rows[index]["input_ids"]))  # little padding per batch
    batches = [order[start : start + _BATCH] for start in range(0, len(order), _BATCH)]
    collate, device = collate_rows(tokenizer.pad_token_id), next(model.parameters()).device
    for done, batch in enumerate(batches, 1):
        padded = collate([rows[index] for index in batch])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=padded["input_ids"].to(device), attention_mask=padded["attention_mask"].to(device),
                           logits_to_keep=predicts_target(padded["labels"]).to(device)).logits
        top = F.log_softmax(logits.float(), dim=-1).topk(TOP_K, dim=-1)
        lengths = [sum(label != IGNORE_INDEX for label in rows[index]["labels"]) for index in batch]
        for index, token_ids, log_probs in zip(batch, top.indices.cpu().split(lengths), top.values.cpu().split(lengths)):
            found[index] = TeacherTargets(token_ids, log_probs)
        if on_batch:
            on_batch(done, len(batches))
    return found, sum(len(row["input_ids"]) for row in rows.values())
