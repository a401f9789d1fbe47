"""How far learning has come: one snapshot type from the trainer to the progress bar, the job record and the server.

A snapshot is made by the trainer (and the phases before it), told which shard it belongs to by the run that
trains several (``learning/publishing.py``), stored in the job record as :meth:`LearnProgress.to_record` writes
it, and read back from the server's JSON with :meth:`LearnProgress.from_record`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LearnProgress:
    """A snapshot of learning, one type from the trainer to the progress bar, the job record and the server.

    ``phase`` is "questions" while the frozen model writes self-study questions (steps are batches; no
    loss yet), "teacher" while it reads them with their passages for distillation (batches), then
    "training" (steps are optimiser steps). A run that trains several shards says which one (``shard`` of
    ``shards``) and the loss curve of it so far (``loss_history``: (step, loss) points, see :class:`LossHistory`).
    """

    phase: str
    step: int
    total_steps: int
    epoch: int
    loss: float
    tokens_per_second: float
    elapsed_seconds: float
    shard: int = 1
    shards: int = 1
    loss_history: tuple[tuple[int, float], ...] = ()

    @property
    def eta_seconds(self) -> float:
        return self.elapsed_seconds / max(self.step, 1) * (self.total_steps - self.step)

    def to_record(self) -> dict:
        """The snapshot as the job record stores it and the server sends it (with the ETA)."""
        return asdict(self) | {"eta_seconds": self.eta_seconds}

    @classmethod
    def from_record(cls, record: dict) -> "LearnProgress":
        """A snapshot read back from a job record or the server (JSON has no NaN: a loss not yet known is null)."""
        loss = record["loss"] if record["loss"] is not None else float("nan")
        return cls(record["phase"], record["step"], record["total_steps"], record["epoch"], loss,
                   record["tokens_per_second"], record["elapsed_seconds"], record["shard"], record["shards"],
                   tuple(tuple(point) for point in record["loss_history"]))


class LossHistory:
    """(step, loss) points for a live loss curve, at most ``limit``: when full, the step stride doubles
    and only steps on the new stride are kept, so a long run keeps an evenly spaced, bounded sample."""

    def __init__(self, limit: int = 256):
        self.points: list[tuple[int, float]] = []
        self._limit = limit
        self._stride = 1

    def add(self, step: int, loss: float) -> None:
        if step % self._stride:
            return
        self.points.append((step, round(loss, 4)))
        if len(self.points) > self._limit:
            self._stride *= 2
            self.points = [point for point in self.points if point[0] % self._stride == 0]
