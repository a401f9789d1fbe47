"""Routing: a question goes to the shard whose documents it is about, and off-topic ones to none."""

import pytest

from dualbrain.knowledge.router import RoutingSettings, ShardRouter

SHARDS = {
    "s0001": [("d1", "Quillfeather Aeronautics builds gliders in Marrowgate. Its chief executive is Marta Oyelaran.")],
    "s0002": [("d2", "The Brannock Dairy cooperative sells cheese from 40 farms."),
              ("d3", "Brannock Dairy was founded in 1911 by the Tolley family.")],
}


def test_questions_reach_the_shard_about_them() -> None:
    router = ShardRouter(SHARDS, RoutingSettings())
    assert router.route("Who leads the glider maker Quillfeather?") == ["s0001"]
    assert router.route("Which family started the Brannock cheese cooperative?") == ["s0002"]


def test_off_topic_questions_get_no_knowledge() -> None:
    router = ShardRouter(SHARDS, RoutingSettings())
    assert router.route("What is the derivative of sin(x)?") == []


def test_several_shards_when_allowed() -> None:
    router = ShardRouter(SHARDS, RoutingSettings(min_similarity=-1.0, max_shards=2))
    assert sorted(router.route("Tell me about gliders and cheese.")) == ["s0001", "s0002"]
    assert ShardRouter({}, RoutingSettings()).route("anything") == []


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        RoutingSettings(max_shards=0)


def test_a_new_version_reuses_passage_vectors_and_drops_removed_ones() -> None:
    vectors: dict = {}
    first = ShardRouter(SHARDS, RoutingSettings(), passage_vectors=vectors)
    kept = {text: vector.clone() for text, vector in vectors.items()}
    assert len(kept) == 3
    second = ShardRouter({"s0001": SHARDS["s0001"]}, RoutingSettings(), passage_vectors=vectors)
    # The removed shard's passages are gone from the cache; a passage holds one unit a line.
    assert set(vectors) == {SHARDS["s0001"][0][1].replace(". ", ".\n")}
    assert all(vector.equal(kept[text]) for text, vector in vectors.items())
    assert first.scores("Who leads Quillfeather?")["s0001"] == pytest.approx(second.scores("Who leads Quillfeather?")["s0001"])
