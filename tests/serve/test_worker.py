"""The learning worker: consolidation when the queue is idle, and never in the way of a waiting request."""

import errno
from dataclasses import replace
from pathlib import Path

import pytest

from dualbrain.api import DualBrain
from dualbrain.errors import DiskFull, DualBrainError
from dualbrain.library import Library
from dualbrain.serve.worker import WorkerSupervisor, consolidate_until_preempted, run_worker
from dualbrain.store import Home
from tests.settings import FAST


def _queue_related_document(home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    DualBrain.open("acme", home=home, model=tiny_model_dir).add([_related(tmp_path)])
    home.queue().enqueue("acme", "learn")


def test_the_idle_worker_consolidates_what_it_learned_when_asked_to(home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    _queue_related_document(home, tiny_model_dir, tmp_path)
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True, consolidate=True)
    kb = home.open_kb("acme")
    assert [job.kind for job in kb.catalog.jobs()][-2:] == ["learn", "consolidate"]
    assert len(kb.current_version().shard_ids) == 1 and len(kb.current_version().document_ids) == 2
    assert len(home.open_kb("other").catalog.jobs()) == 1  # learned nothing new: left alone


def test_consolidation_yields_to_a_waiting_request(home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    kb = home.open_kb("acme")
    DualBrain.open("acme", home=home, model=tiny_model_dir).learn([_related(tmp_path)], FAST)  # two related shards
    serving = kb.current_version().id
    home.queue().enqueue("other", "learn")  # an upload waits
    assert not consolidate_until_preempted(Library(home, tiny_model_dir), "acme", home.queue(), FAST)
    assert kb.current_version().id == serving  # nothing published
    stopped = kb.catalog.jobs()[-1]
    assert stopped.kind == "consolidate" and stopped.status == "failed" and "a request is waiting" in stopped.error


def _related(tmp_path: Path) -> Path:
    """A document naming acme's founder, as acme's first document does."""
    document = tmp_path / "kites.md"
    document.write_text("Edda Vrankel also founded the Marrowgate Kite Club in 1992.\n")
    return document


def test_a_worker_whose_server_died_stops_and_leaves_the_queue_to_the_next(home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    _queue_related_document(home, tiny_model_dir, tmp_path)
    not_our_parent = 0  # as when the server process is gone and the worker was re-parented
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True, server_pid=not_our_parent)
    assert [r.status for r in home.queue().list("acme")] == ["queued"]


def test_the_worker_does_not_consolidate_by_default(home: Home, tiny_model_dir: Path, tmp_path: Path) -> None:
    _queue_related_document(home, tiny_model_dir, tmp_path)
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert [job.kind for job in home.open_kb("acme").catalog.jobs()][-1] == "learn"


def test_a_forget_that_never_finished_is_run_again_when_the_worker_starts(home: Home, tiny_model_dir: Path) -> None:
    kb = home.open_kb("acme")
    [doc] = kb.documents()
    DualBrain.open("acme", home=home, model=tiny_model_dir).withdraw(doc.id)  # its forget began, then died or failed
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert kb.documents() == [] and not any((kb.root / "documents").iterdir())
    assert [(r.kind, r.status) for r in home.queue().list("acme")] == [("forget", "done")]


def test_forgetting_a_document_twice_is_done_twice(home: Home, tiny_model_dir: Path) -> None:
    [doc] = home.open_kb("acme").documents()
    for _ in range(2):  # the user pressed Forget again while the first one waited
        home.queue().enqueue("acme", "forget", {"document_id": doc.id})
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert [(r.status, r.error) for r in home.queue().list("acme")] == [("done", None), ("done", None)]


class _FakeProcess:
    def __init__(self, exitcode: int | None = None):
        self.exitcode = exitcode
        self.stopped = False

    def is_alive(self) -> bool:
        return self.exitcode is None

    def terminate(self) -> None:
        self.stopped = True

    def join(self, timeout: float) -> None:
        pass


def test_a_worker_that_died_is_started_again_less_often_while_it_keeps_dying_and_one_that_ended_is_not() -> None:
    started: list[_FakeProcess] = []
    now = [0.0]
    supervisor = WorkerSupervisor(lambda: started.append(_FakeProcess()) or started[-1], clock=lambda: now[0])

    def dies_at(moment: float, exitcode: int = 1) -> None:
        now[0] = moment
        started[-1].exitcode = exitcode
        supervisor.check()

    supervisor.check()
    assert len(started) == 1  # alive: left alone
    dies_at(100.0, -9)  # SIGKILL, the out-of-memory killer, after a long life: started again at once
    assert len(started) == 2 and supervisor.process is started[1] and supervisor.restarts == 1
    dies_at(101.0)  # at once again (a full disk): 5 s later, then 10 s
    assert len(started) == 2
    now[0] = 106.0
    supervisor.check()
    assert len(started) == 3
    dies_at(107.0)
    now[0] = 116.0
    supervisor.check()
    assert len(started) == 3
    now[0] = 117.0
    supervisor.check()
    assert len(started) == 4
    dies_at(500.0, 0)  # another worker serves this home
    now[0] = 1000.0
    supervisor.check()
    assert len(started) == 4
    supervisor.stop()
    assert started[-1].stopped


def test_a_forget_that_failed_then_succeeded_leaves_no_trace_anywhere_under_the_home(home: Home, tiny_model_dir: Path,
                                                                                       tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "beta"
    folder.mkdir()
    (folder / "secret.md").write_text("The vault code of Quillfeather Aeronautics is ZX-4471.\n")
    (folder / "kept.md").write_text("The Brannock Dairy opened a shop in Lunderby.\n")
    learned = DualBrain.open("beta", home=home, model=tiny_model_dir, create=True).learn([folder], FAST)
    doc = next(d for d in learned.ingest.added if d.source_name == "secret.md")  # one shard holds both: it is retrained
    home.queue().enqueue("beta", "forget", {"document_id": doc.id})
    failures = []

    def fail_once(*args, **kwargs):
        failures.append(1)
        raise DualBrainError(f"disk full while retraining without {doc.id}")

    with monkeypatch.context() as patched:
        patched.setattr("dualbrain.learning.publishing.learn_documents", fail_once)
        run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert failures and doc.id in home.queue().list("beta")[0].error  # the failure names it, for now
    assert doc.id in home.open_kb("beta").catalog.jobs()[-1].error
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)  # the next start forgets it again
    assert [d.source_name for d in home.open_kb("beta").documents()] == ["kept.md"]
    for trace in (doc.id, "ZX-4471", "secret.md"):
        assert not [f for f in home.root.rglob("*") if f.is_file() and trace.encode() in f.read_bytes()], trace


def test_a_request_the_full_disk_stopped_is_left_to_run_again_once_there_is_room(home: Home, tiny_model_dir: Path,
                                                                                tmp_path: Path, monkeypatch) -> None:
    _queue_related_document(home, tiny_model_dir, tmp_path)

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr("dualbrain.learning.publishing.learn_documents", no_room)
        with pytest.raises(DiskFull, match="is full .* make room; the request runs again when the worker restarts"):
            run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert [r.status for r in home.queue().list("acme")] == ["running"]  # not failed: nothing was wrong with it
    run_worker(home.root, home.models_dir, tiny_model_dir, FAST, until_idle=True)
    assert [(r.status, r.error) for r in home.queue().list("acme")] == [("done", None)]


def test_a_long_learn_gives_way_between_shards_to_another_knowledge_bases_request(home: Home, tiny_model_dir: Path,
                                                                                   tmp_path: Path) -> None:
    long = tmp_path / "depots.md"
    long.write_text("\n\n".join(f"Depot {n} of Quillfeather stores {n * 7} gliders." for n in range(20)))
    DualBrain.open("acme", home=home, model=tiny_model_dir).add([long])
    short = tmp_path / "goats.md"
    short.write_text("The Brannock Dairy also keeps goats.\n")
    DualBrain.open("other", home=home, model=tiny_model_dir).add([short])
    queue = home.queue()
    big, small = queue.enqueue("acme", "learn"), queue.enqueue("other", "learn")
    run_worker(home.root, home.models_dir, tiny_model_dir, replace(FAST, shard_chars=300), until_idle=True)
    acme, other = home.open_kb("acme"), home.open_kb("other")
    assert [r.status for r in (queue.get(big.id), queue.get(small.id))] == ["done", "done"]
    (job,) = [job for job in acme.catalog.jobs() if job.params.get("request") == big.id]
    # acme's learn began first, other's was learned while it waited, then acme's went on to publish.
    assert job.created_at < other.current_version().created_at < acme.current_version().created_at
    assert len(acme.current_version().shard_ids) > 3 and not (acme.root / "trained").exists()
