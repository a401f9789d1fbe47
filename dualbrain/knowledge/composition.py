"""The shards of the serving version on the reasoning network: attached when first needed, active per question.

A knowledge base grows shard by shard, and a question needs only the shards that hold its facts (chosen by
``router.py``). Attached shards stay on the model across questions and across versions that keep them,
so publishing a new shard does not reload the old ones; shards a new version dropped are taken off.

Decoding through unmerged adapters costs two small matmuls per adapted projection per token (0.80× the
plain model's tokens/s on the 2-core CPU, `bench perf`). So the model that answers for a set of shards
is a merged copy — the base with those shards' updates added into its weights — kept for the
``merged_copies`` most recently used sets (each costs one more base model of memory; 0 answers through
the adapters instead). A copy is made when a set answers twice in a row: building one takes about as long
as a short answer, so questions routed to a different set each time keep answering through the adapters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import KnowledgeNetwork
from dualbrain.knowledge.shard_format import check_shard
from dualbrain.reasoning.loader import ReasoningNetwork


class AttachedShards:
    """Knowledge shards attached to one reasoning network, any subset of them answering at a time."""

    def __init__(self, reasoning: ReasoningNetwork, merged_copies: int = 1):
        if merged_copies < 0:
            raise ValueError(f"merged_copies must be 0 or more, not {merged_copies}")
        self.reasoning = reasoning
        self.merged_copies = merged_copies
        self._network: KnowledgeNetwork | None = None
        self._model: nn.Module | None = None
        self._attached: set[str] = set()
        self._merged: OrderedDict[frozenset[str], nn.Module] = OrderedDict()  # least recently used first
        self._previous: frozenset[str] = frozenset()  # the set that answered last

    @contextmanager
    def answering(self, shards: dict[str, Path]) -> Iterator[nn.Module]:
        """The model with exactly ``shards`` (id → directory) active; with none, the plain base model."""
        if not shards:
            if self._model is None:
                yield self.reasoning.model
            else:  # switch the attached shards off rather than unloading and reloading them
                with self._network.switched_off(self._model):
                    yield self._model
            return
        key = frozenset(shards)
        if key in self._merged:
            self._merged.move_to_end(key)
            yield self._merged[key]
            return
        for shard_id, directory in shards.items():
            if shard_id not in self._attached:
                self._attach(shard_id, directory)
        self._network.activate(self._model, list(shards))
        repeated, self._previous = key == self._previous, key
        if not self.merged_copies or not repeated:
            yield self._model
            return
        self._merged[key] = self._network.merged_copy(self._model, list(shards))
        while len(self._merged) > self.merged_copies:
            self._merged.popitem(last=False)
        yield self._merged[key]

    def _attach(self, shard_id: str, directory: Path) -> None:
        network = check_shard(self.reasoning, directory)
        if self._network is not None and network.kind != self._network.kind:
            raise DualBrainError(f"knowledge shard {shard_id} is a '{network.kind}' network, the others '{self._network.kind}'")
        self._network = self._network or network
        try:
            self._model = self._network.attach(self._model or self.reasoning.model, directory, shard_id)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise DualBrainError(f"knowledge shard {shard_id} cannot be attached ({error}); relearn") from None
        self._attached.add(shard_id)

    def keep_only(self, shard_ids: set[str]) -> None:
        """Take off every attached shard not in ``shard_ids`` (the shards of the version now serving)."""
        stale = self._attached - shard_ids
        for key in [key for key in self._merged if key & stale]:
            del self._merged[key]
        if self._previous & stale:
            self._previous = frozenset()
        if stale and stale == self._attached:
            self.detach()
            return
        for shard_id in stale:
            self._network.remove(self._model, shard_id)
            self._attached.discard(shard_id)

    def detach(self) -> None:
        """Take every shard off, leaving the plain base model (for training, or a different version)."""
        if self._model is not None:
            self._network.detach(self._model)
        self._network, self._model, self._attached = None, None, set()
        self._merged.clear()
