"""How documents are grouped into knowledge shards, and which shards a change retrains (SISA-style).

Every shard is trained on its own documents only, so adding documents trains new shards and leaves the
others alone, and forgetting or replacing a document retrains just the shard that learned it — from its
remaining documents, to exactly the weights those documents alone train. The cost of a change is bounded
by the shard size, not by the size of the knowledge base.

A question can only chain facts that one shard holds (summing shards' LoRA updates breaks answers:
docs/incremental.md), so shards about the same things are consolidated in the background: shards whose
documents name the same people, organisations or places are retrained as one, up to the shard size.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from dualbrain.store.pieces import document_of


@dataclass(frozen=True)
class ShardPlan:
    keep: list[str]  # shard ids that serve on unchanged
    build: list[list[str]]  # the document ids of each shard to train


def pack_shards(documents: list[tuple[str, int]], max_chars: int) -> list[list[str]]:
    """Group (document id, characters) into shards of at most ``max_chars``, keeping the given order
    (documents given together, such as one folder, tend to be about the same things)."""
    shards: list[list[str]] = []
    size = 0
    for doc_id, chars in documents:
        if shards and size + chars <= max_chars:
            shards[-1].append(doc_id)
            size += chars
        else:
            shards.append([doc_id])
            size = chars
    return shards


def plan_shards(
    current: dict[str, list[str]],
    sizes: dict[str, int],
    *,
    add: list[str],
    remove: set[str],
    replaces: dict[str, str],
    max_chars: int,
) -> ShardPlan:
    """The shards to keep and to train when ``add`` joins and ``remove`` leaves the shards ``current``
    (shard id → documents, or pieces of them: store/pieces.py). ``add`` and ``sizes`` name pieces, ``remove`` and
    ``replaces`` documents. A document in ``replaces`` (new id → old id) that is learned whole is trained into the
    (first) shard of the document it replaces, next to the facts it updates; other new documents and pieces get
    new shards."""
    keep: list[str] = []
    build: list[list[str]] = []
    placed: set[str] = set()
    for shard_id, pieces in current.items():
        documents = {document_of(piece) for piece in pieces}
        if not remove & documents:
            keep.append(shard_id)
            continue
        editions = [new for new, old in replaces.items() if old in documents and new in add and new not in placed]
        placed.update(editions)
        remaining = [piece for piece in pieces if document_of(piece) not in remove] + editions
        if remaining:
            build.append(remaining)
    unplaced = [doc_id for doc_id in add if doc_id not in placed]
    build += pack_shards([(doc_id, sizes[doc_id]) for doc_id in unplaced], max_chars)
    return ShardPlan(keep, build)


def assign_shards(sizes: list[int], workers: int) -> list[int]:
    """The worker (0 … workers-1) that trains each shard of ``sizes`` characters when shards train in
    parallel: the largest shard first, each to the worker with the least work so far, so that workers
    finish close together (training time is about linear in characters)."""
    load = [0] * workers
    owners = [0] * len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        owners[index] = min(range(workers), key=lambda worker: load[worker])
        load[owners[index]] += sizes[index]
    return owners


def plan_consolidation(
    shards: dict[str, list[str]], sizes: dict[str, int], names: dict[str, set[str]], max_chars: int
) -> list[list[str]]:
    """Groups of shards (ids, two or more) to retrain as one shard each: shards whose documents share
    names, merged greedily — the pairs sharing most names first — while a merged shard's documents stay
    within ``max_chars``."""
    shard_names = {shard: set().union(*(names[doc] for doc in docs)) for shard, docs in shards.items()}
    pairs = sorted(
        ((len(shard_names[a] & shard_names[b]), a, b) for a, b in combinations(shards, 2)),
        key=lambda pair: -pair[0],
    )
    order = list(shards)
    group_of = {shard: [shard] for shard in shards}
    chars = {shard: sum(sizes[doc] for doc in docs) for shard, docs in shards.items()}
    for shared, a, b in pairs:
        first, second = group_of[a], group_of[b]
        if not shared or first is second or sum(chars[s] for s in first + second) > max_chars:
            continue
        merged = sorted(first + second, key=order.index)  # documents stay in the order they were learned
        for shard in merged:
            group_of[shard] = merged
    groups = {id(group): group for group in group_of.values() if len(group) > 1}
    return list(groups.values())
