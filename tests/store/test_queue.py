"""The work queue: knowledge bases take turns, and a request that yielded waits for its next turn."""

from pathlib import Path

from dualbrain.store.queue import WorkQueue


def test_knowledge_bases_take_turns_and_each_ones_requests_run_oldest_first(tmp_path: Path) -> None:
    queue = WorkQueue(tmp_path / "queue.sqlite3")
    a1, a2 = queue.enqueue("a", "learn"), queue.enqueue("a", "forget", {"document_id": "d1"})
    b1 = queue.enqueue("b", "learn")
    taken = [queue.claim().id]  # a1: nobody has had a turn, and it is the oldest
    queue.finish(taken[0])
    taken.append(queue.claim().id)  # b1: b never had a turn, a just did
    queue.finish(taken[1])
    taken.append(queue.claim().id)
    assert taken == [a1.id, b1.id, a2.id] and queue.claim() is None


def test_a_request_queued_again_runs_after_the_knowledge_bases_waiting_longer(tmp_path: Path) -> None:
    queue = WorkQueue(tmp_path / "queue.sqlite3")
    big = queue.enqueue("a", "learn")
    assert queue.claim().id == big.id and not queue.others_waiting("a")
    small = queue.enqueue("b", "learn")
    assert queue.others_waiting("a") and not queue.others_waiting("b")
    queue.requeue(big.id)  # a learn yielded between two shards
    assert queue.get(big.id).status == "queued"
    assert queue.claim().id == small.id
    queue.finish(small.id)
    assert queue.claim().id == big.id  # its next turn


def test_a_deleted_knowledge_bases_turn_goes_with_it(tmp_path: Path) -> None:
    queue = WorkQueue(tmp_path / "queue.sqlite3")
    queue.enqueue("a", "learn")
    queue.finish(queue.claim().id)
    queue.drop_kb("a")
    namesake, other = queue.enqueue("a", "learn"), queue.enqueue("b", "learn")
    assert queue.claim().id == namesake.id  # neither had a turn: the oldest first
    assert queue.claim().id == other.id
