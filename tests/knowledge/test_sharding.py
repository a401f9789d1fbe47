"""Shard planning: what a change retrains, and that nothing else is touched."""

from dualbrain.knowledge.sharding import assign_shards, pack_shards, plan_consolidation, plan_shards


def test_pack_keeps_order_and_size_limit() -> None:
    docs = [("a", 400), ("b", 500), ("c", 200), ("d", 2000), ("e", 100)]
    assert pack_shards(docs, 1000) == [["a", "b"], ["c"], ["d"], ["e"]]
    assert pack_shards([], 1000) == []


def test_adding_trains_only_new_shards() -> None:
    plan = plan_shards({"s1": ["a", "b"]}, {"c": 300, "d": 300}, add=["c", "d"], remove=set(), replaces={}, max_chars=500)
    assert plan.keep == ["s1"] and plan.build == [["c"], ["d"]]


def test_forgetting_rebuilds_only_the_shard_that_held_the_document() -> None:
    current = {"s1": ["a", "b"], "s2": ["c"], "s3": ["d"]}
    plan = plan_shards(current, {}, add=[], remove={"b", "d"}, replaces={}, max_chars=500)
    assert plan.keep == ["s2"]
    assert plan.build == [["a"]]  # s3 held only the forgotten document: it simply goes


def test_a_new_edition_is_trained_into_the_shard_of_the_document_it_replaces() -> None:
    current = {"s1": ["a", "b"], "s2": ["c"]}
    plan = plan_shards(
        current, {"b2": 100, "e": 100}, add=["b2", "e"], remove={"b"}, replaces={"b2": "b"}, max_chars=500
    )
    assert plan.keep == ["s2"] and plan.build == [["a", "b2"], ["e"]]


def test_consolidation_merges_shards_that_name_the_same_things_within_the_size() -> None:
    shards = {"s1": ["overview"], "s2": ["people"], "s3": ["dairy"], "s4": ["big"]}
    sizes = {"overview": 300, "people": 200, "dairy": 300, "big": 900}
    names = {"overview": {"Quillfeather Aeronautics", "Edda Vrankel"}, "people": {"Edda Vrankel", "Marta Oyelaran"},
             "dairy": {"Brannock Dairy"}, "big": {"Quillfeather Aeronautics", "Edda Vrankel", "Marta Oyelaran"}}
    # "big" shares most with both, but would not fit: the next best pair is merged instead.
    assert plan_consolidation(shards, sizes, names, max_chars=1000) == [["s1", "s2"]]
    assert plan_consolidation(shards, sizes, names, max_chars=2000) == [["s1", "s2", "s4"]]  # in learning order
    assert plan_consolidation(shards, sizes, names, max_chars=400) == []  # nothing fits together
    assert plan_consolidation({"s1": ["overview"], "s3": ["dairy"]}, sizes, names, max_chars=1000) == []


def test_parallel_shards_go_largest_first_to_the_least_loaded_worker() -> None:
    owners = assign_shards([5, 3, 3, 2, 1], 2)
    assert owners == [0, 1, 1, 0, 1]
    loads = [sum(size for size, owner in zip([5, 3, 3, 2, 1], owners) if owner == worker) for worker in range(2)]
    assert loads == [7, 7]
    assert sorted(assign_shards([4, 4, 4], 3)) == [0, 1, 2]  # as many shards as workers: one each


def test_pieces_of_a_long_document_leave_together_and_a_new_edition_goes_to_its_first_shard() -> None:
    current = {"s1": ["a@0-500", "b"], "s2": ["a@500-900"], "s3": ["c"]}
    gone = plan_shards(current, {}, add=[], remove={"a"}, replaces={}, max_chars=600)
    assert gone.keep == ["s3"] and gone.build == [["b"]]  # every piece of "a" goes; s2 held nothing else
    edition = plan_shards(current, {"a2": 300}, add=["a2"], remove={"a"}, replaces={"a2": "a"}, max_chars=600)
    assert edition.build == [["b", "a2"]]  # learned once, next to what it updates
    long_edition = plan_shards(current, {"a2@0-500": 500, "a2@500-800": 300}, add=["a2@0-500", "a2@500-800"],
                               remove={"a"}, replaces={"a2": "a"}, max_chars=600)
    assert long_edition.build == [["b"], ["a2@0-500"], ["a2@500-800"]]  # in pieces, a shard each
