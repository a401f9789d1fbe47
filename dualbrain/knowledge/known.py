"""Which training examples the knowledge network already knows, so that later epochs train only the others.

By its last epochs a shard recites most examples word for word (the mean loss ends near 0.005), yet each of
them costs a pass as long as one the network still gets wrong. An example is *known* when, in its pass of an
epoch, every target token had a probability of at least ``KNOWN_PROBABILITY``: greedy decoding writes the target,
and no other token comes near. Known examples leave the epochs that follow (issue 21: train on what is not yet
known). Nothing leaves before ``KNOWN_FROM_EPOCH`` epochs: right after its first pass an example may be recited
from the steps just taken and not yet stored with the rest.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from dualbrain.knowledge.loss import predicts_target

KNOWN_PROBABILITY = 0.75
KNOWN_FROM_EPOCH = 2


class KnownExamples:
    """Each example's highest target-token loss in its pass of the current epoch, by the row's ``index``."""

    def __init__(self, count: int) -> None:
        self._worst = torch.full((count,), math.inf)

    def record(self, indices: torch.Tensor, labels: torch.Tensor, gold_losses: torch.Tensor) -> None:
        """One batch's pass: its rows' ``indices``, ``labels`` and per-token gold losses (``loss.token_losses``)."""
        rows = indices[predicts_target(labels).nonzero()[:, 0]]  # the row of each target token, in loss order
        self._worst.scatter_reduce_(0, rows.cpu(), gold_losses.detach().float().cpu(), reduce="amax", include_self=False)

    def unknown(self, rows: list[dict], device: torch.device | None = None) -> list[dict]:
        """``rows`` less those known in this epoch, and a fresh count for the next one. With ``device``, the
        processes training together pool what each saw first, so that all keep the same rows."""
        worst = self._worst
        if device is not None:
            worst = worst.to(device)
            dist.all_reduce(worst, op=dist.ReduceOp.MIN)  # a row a process did not see is +inf there
            worst = worst.cpu()
        self._worst = torch.full_like(self._worst, math.inf)
        threshold = -math.log(KNOWN_PROBABILITY)
        return [row for row in rows if not worst[row["index"]] <= threshold]
