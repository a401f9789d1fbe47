"""Routing: a question goes to the shard whose documents it is about, and off-topic ones to none."""

import pytest

from dualbrain.answering.routing import RoutingSettings, ShardRouter, asked_names, named_codes

SHARDS = {
    "s0001": [("d1", "Quillfeather Aeronautics builds gliders in Marrowgate. Its chief executive is Marta Oyelaran.")],
    "s0002": [("d2", "The Brannock Dairy cooperative sells cheese from 40 farms."),
              ("d3", "Brannock Dairy was founded in 1911 by the Tolley family.")],
}
DATASHEETS = {
    "s0001": [("d1", "Datasheet: Corvex C2\nPart number: XR-100\nWeight: 8.9 kg")],
    "s0002": [("d2", "Datasheet: Mokou M4\nPart number: DG-591\nWarranty: two years, from 2019")],
}


def test_questions_reach_the_shard_about_them() -> None:
    router = ShardRouter(SHARDS, RoutingSettings())
    assert router.route("Who leads the glider maker Quillfeather?") == ["s0001"]
    assert router.route("Which family started the Brannock cheese cooperative?") == ["s0002"]


def test_off_topic_questions_get_no_knowledge() -> None:
    router = ShardRouter(SHARDS, RoutingSettings())
    assert router.route("What is the derivative of sin(x)?") == []


def test_a_code_routes_to_the_shard_holding_it_whatever_its_similarity() -> None:
    router = ShardRouter(DATASHEETS, RoutingSettings())
    question = "I found the code dg-591 on a crate: what item is that?"  # in any case
    assert max(router.scores(question).values()) < RoutingSettings().min_similarity
    assert router.route(question) == ["s0002"]
    # A code outranks a closer shard, and an unknown code routes nowhere by itself.
    assert router.route("Is the Corvex datasheet's weight the same as DG-591's?")[0] == "s0002"
    assert router.route("I found the code QX-777 on a crate: what item is that?") == []


def test_among_close_shards_the_one_holding_the_asked_names_answers() -> None:
    shards = {"old": [("d1", "Quillfeather Aeronautics builds gliders. Its director of research heads Project Drunhes.")],
              "new": [("d2", "Who heads Project Kestrel? Orin Tabb heads Project Kestrel at Brannock Dairy.")]}
    router = ShardRouter(shards, RoutingSettings())
    question = "Who heads Project Drunhes?"
    scores = router.scores(question)
    assert scores["new"] > scores["old"] >= RoutingSettings().min_similarity  # the same form is closer than the name
    assert router.route(question) == ["old"]
    # Names only order the shards close enough: they route nothing by themselves.
    assert ShardRouter(shards, RoutingSettings(min_similarity=0.9)).route(question) == []


def test_asked_names_are_capitalised_words_after_the_first() -> None:
    assert asked_names("Which organisation has its headquarters in Dreannemere?") == {"Dreannemere"}
    assert asked_names("Who is the CEO of Brannock Dairy, and of X?") == {"CEO", "Brannock", "Dairy"}
    assert asked_names("Who?") == set()


def test_numbers_ordinals_and_decades_are_no_codes() -> None:
    assert named_codes("Corvex C2 (XR-100, 12V) for the 3.1-litre tank") == {"c2", "xr-100", "12v"}
    assert named_codes("Who won in 2019, and who came 3rd in the 1990s?") == set()
    router = ShardRouter(DATASHEETS, RoutingSettings())
    assert router.route("Who won the football cup in 2019?") == []


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
