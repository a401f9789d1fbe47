"""The CPU cores the server's answers and its learning worker share: answers come first.

On a CPU, one answer and one training run each use every core. Run side by side, their threads oversubscribe
the cores and both slow many-fold (two trainings at once ran at 24 trained tokens/s instead of ~270; 16 chats
while the worker learned had a p50 of 37 s: docs/serving.md). So the server process and its worker process
share two counters in shared memory: whether an answer is running and whether the worker is learning. While
both are, the worker trains on its share of the cores (its thread count changes between two training steps)
and the answer runs on the rest; alone, either takes every core.
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

_CONTEXT = multiprocessing.get_context("spawn")  # the worker's (serve/worker.py)


@dataclass(frozen=True)
class CoreBudget:
    """Threads for answers and for training, from what the other process is doing now."""

    cores: int
    # Shared bytes without locks: each has one writer (the server, the worker), and a stale read costs one step.
    answering: ctypes.c_byte  # 1 while the server computes an answer
    learning: ctypes.c_byte  # 1 while the worker runs a request or consolidates

    @classmethod
    def create(cls, cores: int | None = None) -> "CoreBudget":
        """A budget over ``cores`` (default: the threads torch uses now), shareable with a spawned process."""
        return cls(cores or torch.get_num_threads(), _CONTEXT.Value("b", 0, lock=False), _CONTEXT.Value("b", 0, lock=False))

    @property
    def _training_share(self) -> int:
        """The worker's cores while an answer runs: half, and at least one (answers are short; learning goes on)."""
        return max(1, self.cores // 2)

    def answer_threads(self) -> int:
        return max(1, self.cores - self._training_share) if self.learning.value else self.cores

    def training_threads(self) -> int:
        return self._training_share if self.answering.value else self.cores

    @contextmanager
    def answering_now(self) -> Iterator[None]:
        """Around an answer (answers run one at a time): it runs on the cores learning leaves it, and learning
        takes its share only meanwhile."""
        with _raised(self.answering):
            use_threads(self.answer_threads())
            yield

    @contextmanager
    def learning_now(self) -> Iterator[None]:
        """Around a request or consolidation the worker runs."""
        with _raised(self.learning):
            yield


@contextmanager
def _raised(flag: ctypes.c_byte) -> Iterator[None]:
    flag.value = 1
    try:
        yield
    finally:
        flag.value = 0


def use_threads(count: int) -> None:
    """Run this process's next torch operations on ``count`` threads (between two steps: a cheap change)."""
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
