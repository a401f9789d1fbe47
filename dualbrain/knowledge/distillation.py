"""Token-level distillation from the in-context teacher (issue 19, lever (a)).

The frozen reasoning network answers far better with the passage that holds a fact in its prompt (the
``context`` oracle) than without; the knowledge network has to answer without it. So the teacher is the
frozen model itself, reading a chat example's question after the passages that hold the example's target
(found by BM25 with the target as the query, framed as the ``knowledge+rag`` prompt frames passages). At
every target position its top-k next-token log-probabilities are kept, computed once before training; the
student, with no passage in its prompt, learns that distribution next to the gold target (see
``trainer.target_loss``). It learns not only the fact's tokens but how the model that reads the fact weighs
the alternatives at each of them (Cartridges, arXiv 2506.06266: +8.6 chrF over next-token training on the
same data; Knowledge Modules, arXiv 2503.08727).

Distilled are the views whose target answers a question from the documents: ``recall``, ``cloze`` and
``question``. Not ``passage`` (no question: the text is the teacher's own prompt), ``grounded`` (its prompt
holds passages already) nor ``abstain`` (a teacher that sees a near miss's neighbours has no reason to decline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from dualbrain.knowledge.signals import TrainingExample
from dualbrain.knowledge.trainer import TrainSettings, processes, target_token_ids, training_copy
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
    targets = [target_token_ids(example, tokenizer) for example in examples]
    return teacher_targets(teacher, tokenizer, teacher_prompts(documents, examples), targets,
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
    prompts: list[str | None],
    targets: list[list[int]],
    max_tokens: int,
    bf16: bool,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[list[TeacherTargets | None], int]:
    """The teacher's top-k choices over each target (token ids) after its prompt — None where the prompt is
    None or the two together exceed ``max_tokens`` — and the tokens it read. ``model`` is the frozen base,
    with no knowledge attached."""
    sequences = {}
    for index, (prompt, target) in enumerate(zip(prompts, targets)):
        if prompt is not None:
            prompt_ids = tokenizer(question_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
            if len(prompt_ids) + len(target) <= max_tokens:
                sequences[index] = (prompt_ids, target)
    found: list[TeacherTargets | None] = [None] * len(prompts)
    order = sorted(sequences, key=lambda index: sum(map(len, sequences[index])))  # little padding per batch
    batches = [order[start : start + _BATCH] for start in range(0, len(order), _BATCH)]
    device = next(model.parameters()).device
    for done, batch in enumerate(batches, 1):
        input_ids, attention_mask, predicts_target = _teacher_batch([sequences[index] for index in batch], tokenizer.pad_token_id)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                           logits_to_keep=predicts_target.to(device)).logits
        top = F.log_softmax(logits.float(), dim=-1).topk(TOP_K, dim=-1)
        lengths = [len(sequences[index][1]) for index in batch]
        for index, token_ids, log_probs in zip(batch, top.indices.cpu().split(lengths), top.values.cpu().split(lengths)):
            found[index] = TeacherTargets(token_ids, log_probs)
        if on_batch:
            on_batch(done, len(batches))
    return found, sum(len(prompt) + len(target) for prompt, target in sequences.values())


def _teacher_batch(sequences: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded ids, attention mask and the positions that predict a target token, for (prompt, target) pairs."""
    width = max(len(prompt) + len(target) for prompt, target in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    predicts_target = torch.zeros((len(sequences), width), dtype=torch.bool)
    for row, (prompt, target) in enumerate(sequences):
        ids = prompt + target
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
        predicts_target[row, len(prompt) - 1 : len(ids) - 1] = True  # position i predicts token i + 1
    return input_ids, attention_mask, predicts_target
