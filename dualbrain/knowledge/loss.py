"""The knowledge network's loss: next-token cross-entropy on the target tokens only, optionally mixed with the
in-context teacher's distribution (``distillation.py``), per token so that the trainer can also tell which
examples are already known (``known.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100  # label value the loss skips (prompt tokens and padding)


def target_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], chunk_positions: int = 0, distillation: float = 0.0
) -> torch.Tensor:
    """Mean loss over the batch's target tokens (see :func:`token_losses`)."""
    return token_losses(model, batch, chunk_positions, distillation)[0].mean()


def token_losses(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], chunk_positions: int = 0, distillation: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each target token's training loss, and its plain cross-entropy against the gold token (detached), in the
    order of the batch's rows, left to right. Where the batch has the teacher's choices for a token,
    ``distillation`` of its training loss is the cross-entropy against the teacher's top-k distribution
    (renormalised) instead of the gold token; elsewhere the two are the same.

    Logits are computed only at the positions that predict a target token: the vocabulary projection is
    about a fifth of a small model's compute, and prompts and padding need none of it. With
    ``chunk_positions``, the projection and the loss run that many positions at a time and are recomputed
    in the backward pass, so no more than one chunk of logits (positions × vocabulary) is ever held: for
    large vocabularies and batches the logits, not the model, fill the memory.
    """
    labels = batch["labels"]
    predicting = predicts_target(labels)
    targets = labels[:, 1:][predicting[:, :-1]]
    teacher = (batch["teacher_ids"], batch["teacher_log_probs"], batch["distilled"]) if distillation and "distilled" in batch else None
    if not chunk_positions:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=predicting).logits
        return _token_losses(torch.nn.Identity(), logits, targets, *(teacher or ()), distillation=distillation)
    with _final_hidden_states(model) as projection:
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=predicting).logits
    columns = (hidden, targets, *(teacher or ()))
    chunks = [
        checkpoint(_token_losses, projection, *[column[start : start + chunk_positions] for column in columns],
                   distillation=distillation, use_reentrant=False)
        for start in range(0, len(targets), chunk_positions)
    ]
    return torch.cat([loss for loss, _ in chunks]), torch.cat([gold for _, gold in chunks])


def predicts_target(labels: torch.Tensor) -> torch.Tensor:
    """Where a batch's positions predict a target token (position i predicts token i + 1)."""
    predicting = torch.zeros_like(labels, dtype=torch.bool)
    predicting[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return predicting


def _token_losses(
    projection: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, teacher_ids: torch.Tensor | None = None,
    teacher_log_probs: torch.Tensor | None = None, distilled: torch.Tensor | None = None, distillation: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss and the gold cross-entropy of these target positions (see token_losses)."""
    logits = projection(hidden).float()
    gold = F.cross_entropy(logits, targets, reduction="none")
    if teacher_ids is None:
        return gold, gold.detach()
    log_probs = F.log_softmax(logits, dim=-1)
    taught = -(teacher_log_probs.softmax(dim=-1) * log_probs.gather(1, teacher_ids)).sum(dim=-1)
    return torch.where(distilled, (1 - distillation) * gold + distillation * taught, gold), gold.detach()


@contextmanager
def _final_hidden_states(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """While inside, ``model``'s forward returns the final hidden states where it returned logits; yields the
    vocabulary projection it set aside. The forward still goes through ``model`` itself (DDP's hooks)."""
    causal_lm = model.module if hasattr(model, "module") else model  # DDP wraps the model
    projection = causal_lm.get_output_embeddings()
    causal_lm.set_output_embeddings(torch.nn.Identity())
    try:
        yield projection
    finally:
        causal_lm.set_output_embeddings(projection)
