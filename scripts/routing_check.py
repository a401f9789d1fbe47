"""How often routing sends a question to a shard that holds its answer, on the shard layouts of
`dualbrain bench growth`, with the shipped rule and with similarity alone. Embeddings only, no training: a
minute on a CPU.

Layout per (seed, size): the base organisations' documents packed into shards of at most 8,000 characters,
their people directories in a shard of their own, and the ~2 KB added document (two more organisations) as one
more shard. A question is routed right when its first route holds one of its gold documents.

    python scripts/routing_check.py --seeds 0,1,2,3 --sizes 3,6,12
"""

from __future__ import annotations

import argparse
import json

from dualbrain.answering.routing import RoutingSettings, ShardRouter
from dualbrain.bench.fictional import generate_organisations, organisation_corpus
from dualbrain.bench.growth import GrowthConfig, _people_of
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.sharding import pack_shards


class SimilarityOnly(ShardRouter):
    """The rule before names ordered the close shards: codes, then similarity (no shard holds any name)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._names_of = {shard_id: set() for shard_id in self._names_of}


def layout(seed: int, size: int, added: int) -> tuple[dict[str, list[tuple[str, str]]], list[tuple[int, object]]]:
    organisations = generate_organisations(size + added, seed)
    corpora = [organisation_corpus(o) for o in organisations]
    base = [(f"{i}/{name}", text) for i in range(size) for name, text in corpora[i].documents.items()
            if name != _people_of(organisations[i])]
    text_of = dict(base)
    packed = pack_shards([(doc_id, len(text)) for doc_id, text in base], LearnConfig.shard_chars)
    shards = {f"base{n}": [(doc_id, text_of[doc_id]) for doc_id in group] for n, group in enumerate(packed)}
    shards["people"] = [(f"{i}/{_people_of(organisations[i])}", corpora[i].documents[_people_of(organisations[i])])
                        for i in range(size)]
    shards["added"] = [("added", "\n\n".join(text for i in range(size, size + added) for text in corpora[i].documents.values()))]
    questions = [(i, q) for i in range(size + added) for q in corpora[i].questions if q.answers]
    return shards, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--sizes", default="3,6,12")
    args = parser.parse_args()
    added = GrowthConfig.added
    totals: dict[str, int] = {}
    for seed in map(int, args.seeds.split(",")):
        for size in map(int, args.sizes.split(",")):
            shards, questions = layout(seed, size, added)
            home = {doc_id: shard_id for shard_id, docs in shards.items() for doc_id, _ in docs}
            vectors: dict = {}  # both rules route over the same passages: embedded once
            routers = {rule: router(shards, RoutingSettings(), passage_vectors=vectors)
                       for rule, router in (("names", ShardRouter), ("similarity", SimilarityOnly))}
            for i, question in questions:
                group = "earlier" if i < size else "added"
                gold = {"added"} if i >= size else {home[f"{i}/{name}"] for name in question.gold_documents}
                totals[f"{group} questions"] = totals.get(f"{group} questions", 0) + 1
                for rule, router in routers.items():
                    route = router.route(question.question)
                    totals[f"{group}, {rule}"] = totals.get(f"{group}, {rule}", 0) + bool(route and route[0] in gold)
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
