import hashlib
import os
import threading

import pytest

from dualbrain.errors import DualBrainError, DuplicateDocument
from dualbrain.store import Catalog, Home, KnowledgeBase
from dualbrain.store.knowledge_base import StagedShard
from tests.store.test_catalog import make_schema_1_catalog


@pytest.fixture
def kb(tmp_path):
    return Home(tmp_path).create_kb("acme")


def add_text(kb, text, source="doc.txt"):
    data = text.encode()
    return kb.add_document(source, "txt", text, hashlib.sha256(data).hexdigest(), len(data))


def stage(staged, content, *doc_ids, **metrics):
    """A finished shard in the staging directory ``staged``, trained on ``doc_ids``."""
    (staged / "adapter.bin").write_text(content)
    return StagedShard(staged, doc_ids, metrics)


def publish(kb, *doc_ids, kept=(), content="weights"):
    """Publish the shards ``kept`` plus, if ``doc_ids`` are given, one new shard trained on them."""
    with kb.staging_dir() as staged:
        new = [stage(staged, content, *doc_ids)] if doc_ids else []
        return kb.publish(new, kept_shard_ids=list(kept), base_identity="base", metrics={})


def adapter(kb, shard_id):
    return (kb.shard_dir(shard_id) / "adapter.bin").read_text()


def listdir(path):
    return sorted(os.listdir(path))


def test_add_document_stores_text_and_row(kb):
    text = "Travel expenses are approved by the CFO.\r\nLine two ü"
    record = add_text(kb, text, "handbook.md")
    assert record.id == "d" + hashlib.sha256(text.encode()).hexdigest()[:16]
    assert (record.source_name, record.status, record.chars) == ("handbook.md", "pending", len(text))
    assert kb.document_text(record.id) == text
    assert kb.documents() == [record]
    assert os.listdir(kb.root / "documents") == [f"{record.id}.txt"]


def test_duplicate_is_rejected_before_writing(kb, monkeypatch):
    first = add_text(kb, "same", "a.txt")
    written = []
    monkeypatch.setattr("dualbrain.store.knowledge_base.atomic_write_text", lambda *args: written.append(args))
    with pytest.raises(DuplicateDocument, match=f"b.txt: same content as document {first.id} \\(a.txt\\)"):
        add_text(kb, "same", "b.txt")
    assert written == []
    assert len(kb.documents()) == 1


def test_failed_catalog_insert_removes_text_file(kb, monkeypatch):
    def broken_insert(*args):
        raise OSError("database is locked")

    monkeypatch.setattr(kb.catalog, "add_document", broken_insert)
    with pytest.raises(OSError):
        add_text(kb, "lost")
    assert os.listdir(kb.root / "documents") == []


def test_document_text_of_unknown_document(kb):
    with pytest.raises(DualBrainError, match="unknown document 'dnope'"):
        kb.document_text("dnope")


def test_publish_moves_staged_shards_and_flips_current(kb):
    first, second = add_text(kb, "first"), add_text(kb, "second")
    assert kb.current_version() is None
    with kb.staging_dir() as one, kb.staging_dir() as two:
        assert one.parent == kb.root / "staging"
        shards = [stage(one, "weights-1", first.id, loss=0.1), stage(two, "weights-2", second.id)]
        version = kb.publish(shards, kept_shard_ids=[], base_identity="base-1", metrics={"final_loss": 0.1})
        assert not one.exists() and not two.exists()

    assert (version.id, version.shard_ids, version.document_ids) == ("v0001", ("s0001", "s0002"), (first.id, second.id))
    assert version.metrics == {"final_loss": 0.1}
    assert kb.current_version() == version
    assert (kb.root / "CURRENT").read_text().strip() == "v0001"
    assert kb.shard_dir("s0001") == kb.root / "shards" / "s0001"
    assert (adapter(kb, "s0001"), adapter(kb, "s0002")) == ("weights-1", "weights-2")
    assert kb.catalog.get_shard("s0001").document_ids == (first.id,)
    assert kb.catalog.get_shard("s0001").metrics == {"loss": 0.1}
    assert kb.shard_documents(version) == {"s0001": [first.id], "s0002": [second.id]} and kb.shard_documents(None) == {}
    assert [d.status for d in kb.documents()] == ["learned", "learned"]
    assert listdir(kb.root / "staging") == []

    later = add_text(kb, "third")
    second_version = publish(kb, later.id, kept=["s0002"], content="weights-3")
    assert (second_version.id, second_version.shard_ids) == ("v0002", ("s0002", "s0003"))
    assert kb.current_version().document_ids == (second.id, later.id)
    assert listdir(kb.root / "shards") == ["s0001", "s0002", "s0003"]  # shards are never changed
    assert (adapter(kb, "s0001"), adapter(kb, "s0003")) == ("weights-1", "weights-3")
    assert kb.catalog.get_version("v0001").shard_ids == ("s0001", "s0002")


def test_publish_with_unknown_kept_shard_keeps_previous_version(kb):
    doc = add_text(kb, "first")
    publish(kb, doc.id)
    with pytest.raises(DualBrainError, match="unknown shard 's0042'"):
        publish(kb, kept=["s0001", "s0042"])
    assert kb.current_version().id == "v0001"
    assert [v.id for v in kb.catalog.versions()] == ["v0001"]


def test_failed_publish_keeps_previous_version(kb, monkeypatch):
    doc = add_text(kb, "first")
    publish(kb, doc.id, content="weights-1")
    new_doc = add_text(kb, "second")

    def broken_add_version(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(kb.catalog, "add_version", broken_add_version)
    with pytest.raises(OSError, match="disk I/O error"):
        publish(kb, new_doc.id, kept=["s0001"], content="weights-2")

    assert kb.current_version().id == "v0001"
    assert kb.current_version().shard_ids == ("s0001",)
    assert adapter(kb, "s0001") == "weights-1"
    assert [v.id for v in kb.catalog.versions()] == ["v0001"]
    assert listdir(kb.root / "staging") == []
    assert kb.catalog.get_document(new_doc.id).status == "pending"

    monkeypatch.undo()
    version = publish(kb, new_doc.id, kept=["s0001"], content="weights-2")
    assert (version.id, version.shard_ids) == ("v0003", ("s0001", "s0003"))  # ids of the failed publish are not reused
    # The shard of the failed publish (s0002) is named by no version: the next collection removes it.
    assert kb.prune(1) == ["v0001"]
    assert listdir(kb.root / "shards") == ["s0001", "s0003"]
    assert [s.id for s in kb.catalog.shards()] == ["s0001", "s0003"]


def test_publish_replaces_orphan_left_by_a_crash(kb):
    # A publish that died after its rename but before its catalog insert leaves an uncatalogued directory.
    (kb.root / "shards" / "s0001").mkdir()
    (kb.root / "shards" / "s0001" / "junk").write_text("half")
    version = publish(kb, add_text(kb, "doc").id, content="fresh")
    assert version.shard_ids == ("s0001",)
    assert listdir(kb.shard_dir("s0001")) == ["adapter.bin"]
    assert adapter(kb, "s0001") == "fresh"


def test_staging_dir_cleaned_on_exception(kb):
    with pytest.raises(RuntimeError):
        with kb.staging_dir() as staged:
            stage(staged, "partial")
            raise RuntimeError("training failed")
    assert not staged.exists()
    assert os.listdir(kb.root / "staging") == []


def test_staging_dirs_are_distinct(kb):
    with kb.staging_dir() as first, kb.staging_dir() as second:
        assert first != second
        assert first.is_dir() and second.is_dir()


def test_concurrent_publishers_get_distinct_versions(tmp_path):
    home = Home(tmp_path)
    home.create_kb("acme")
    # Separate KnowledgeBase objects: separate connections and lock file descriptors, like separate processes.
    publishers = [home.open_kb("acme") for _ in range(4)]
    results, errors = [], []

    def publish_one(kb, n):
        try:
            with kb.staging_dir() as staged:
                shard = stage(staged, f"weights-{n}")
                results.append(kb.publish([shard], kept_shard_ids=[], base_identity="base", metrics={"n": n}))
        except Exception as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=publish_one, args=(kb, n)) for n, kb in enumerate(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(v.id for v in results) == ["v0001", "v0002", "v0003", "v0004"]
    assert sorted(v.shard_ids for v in results) == [("s0001",), ("s0002",), ("s0003",), ("s0004",)]
    for version in results:
        assert adapter(publishers[0], version.shard_ids[0]) == f"weights-{version.metrics['n']}"
    assert publishers[0].current_version().id == "v0004"


def test_rollback(kb):
    first, second = add_text(kb, "first"), add_text(kb, "second")
    publish(kb, first.id)
    publish(kb, second.id, kept=["s0001"])
    rolled = kb.rollback("v0001")
    assert rolled == kb.catalog.get_version("v0001")
    assert (kb.root / "CURRENT").read_text().strip() == "v0001"
    assert kb.current_version().id == "v0001"
    assert [(d.id, d.status) for d in kb.documents()] == [(first.id, "learned"), (second.id, "pending")]
    assert listdir(kb.root / "shards") == ["s0001", "s0002"]  # the later version is kept

    kb.rollback("v0002")
    assert [d.status for d in kb.documents()] == ["learned", "learned"]
    with pytest.raises(DualBrainError, match="unknown version 'v0009'"):
        kb.rollback("v0009")
    assert kb.current_version().id == "v0002"


def test_rollback_to_a_version_holding_a_document_being_forgotten_is_refused(kb):
    first, second = add_text(kb, "first"), add_text(kb, "second")
    publish(kb, first.id)
    publish(kb, second.id)  # v0002 holds only the second: as if a forget of the first had retrained its shard, then failed
    kb.catalog.set_status([first.id], "forgetting")
    with pytest.raises(DualBrainError, match=f"version v0001 holds 1 document\\(s\\) being forgotten \\({first.id}\\)"):
        kb.rollback("v0001")
    assert kb.current_version().id == "v0002"


def test_statuses_a_publish_or_rollback_died_before_setting_are_set_by_the_sweep(kb):
    first, second = add_text(kb, "first"), add_text(kb, "second")
    publish(kb, first.id)
    publish(kb, second.id, kept=["s0001"])
    kb.catalog.set_status([second.id], "pending")  # CURRENT switched to v0002, then the process died
    kb.sweep_leftovers()
    assert [d.status for d in kb.documents()] == ["learned", "learned"]
    (kb.root / "CURRENT").write_text("v0001\n")  # a rollback that died after switching
    kb.sweep_leftovers()
    assert [(d.id, d.status) for d in kb.documents()] == [(first.id, "learned"), (second.id, "pending")]


def test_prune_keeps_newest_current_and_shared_shards(kb):
    docs = [add_text(kb, f"doc {n}").id for n in range(3)]
    publish(kb, docs[0])                                  # v0001: s0001
    publish(kb, docs[1], kept=["s0001"])                  # v0002: s0001 s0002
    publish(kb, docs[1], kept=["s0001"])                  # v0003: s0001 s0003
    publish(kb, docs[2], kept=["s0001", "s0003"])         # v0004: s0001 s0003 s0004
    kb.rollback("v0001")

    assert kb.prune(2) == ["v0002"]  # v0001 is current, v0003 and v0004 the newest two
    assert [v.id for v in kb.catalog.versions()] == ["v0001", "v0003", "v0004"]
    assert listdir(kb.root / "shards") == ["s0001", "s0003", "s0004"]

    kb.rollback("v0004")
    assert kb.prune(1) == ["v0001", "v0003"]
    assert [v.id for v in kb.catalog.versions()] == ["v0004"]
    assert listdir(kb.root / "shards") == ["s0001", "s0003", "s0004"]  # all still in v0004
    assert [s.id for s in kb.catalog.shards()] == ["s0001", "s0003", "s0004"]
    assert kb.prune(1) == []
    with pytest.raises(DualBrainError, match="at least one version"):
        kb.prune(0)


def test_purge_document(kb):
    gone, kept = add_text(kb, "secret", "gone.txt"), add_text(kb, "public", "kept.txt")
    for doc in (gone, kept):
        kb.derived_dir(doc.id).mkdir()
        (kb.derived_dir(doc.id) / "questions.json").write_text("[]")
    publish(kb, gone.id)                               # v0001: s0001
    publish(kb, kept.id, kept=["s0001"])               # v0002: s0001 s0002

    with pytest.raises(DualBrainError, match=f"{gone.id} is still in the current version v0002"):
        kb.purge_document(gone.id)
    assert kb.document_text(gone.id) == "secret"
    assert listdir(kb.root / "shards") == ["s0001", "s0002"]

    publish(kb, kept=["s0002"])                        # v0003: s0002, without the document
    assert kb.purge_document(gone.id) == ["v0001", "v0002"]
    assert [v.id for v in kb.catalog.versions()] == ["v0003"]
    assert listdir(kb.root / "shards") == ["s0002"]
    assert [s.id for s in kb.catalog.shards()] == ["s0002"]
    assert listdir(kb.root / "documents") == [f"{kept.id}.txt"]
    assert listdir(kb.root / "derived") == [kept.id]
    assert [d.id for d in kb.documents()] == [kept.id]
    assert len(kb.catalog.forgotten()) == 1
    with pytest.raises(DualBrainError, match=f"unknown document '{gone.id}'"):
        kb.purge_document(gone.id)
    assert add_text(kb, "secret", "gone.txt").id == gone.id  # may be added again


def make_schema_1_kb(root):
    """A knowledge base as schema 1 left it: one monolithic adapter in versions/, named by CURRENT."""
    root.mkdir()
    for folder in ("documents", "staging", "versions/v0001"):
        (root / folder).mkdir(parents=True)
    (root / "versions" / "v0001" / "adapter.bin").write_text("monolithic")
    (root / "CURRENT").write_text("v0001\n")
    (root / "documents" / "d1.txt").write_text("old text")
    make_schema_1_catalog(root / "catalog.sqlite3")


def test_schema_1_kb_drops_monolithic_versions(tmp_path):
    make_schema_1_kb(tmp_path / "old")
    kb = KnowledgeBase("old", tmp_path / "old")
    assert not (kb.root / "versions").exists() and not (kb.root / "CURRENT").exists()
    assert (kb.root / "shards").is_dir() and (kb.root / "derived").is_dir()
    assert kb.current_version() is None
    assert [(d.id, d.status) for d in kb.documents()] == [("d1", "pending")]
    assert kb.document_text("d1") == "old text"
    version = publish(kb, "d1")
    assert (version.id, version.shard_ids) == ("v0001", ("s0001",))
    assert kb.catalog.get_document("d1").status == "learned"


def test_interrupted_migration_still_drops_monolithic_versions(tmp_path):
    # The catalog is migrated (committed) before versions/ and CURRENT are removed. If the process dies
    # in between (or anything opens the catalog first), the next KnowledgeBase sees schema 2 and keeps them.
    make_schema_1_kb(tmp_path / "old")
    Catalog(tmp_path / "old" / "catalog.sqlite3").close()
    kb = KnowledgeBase("old", tmp_path / "old")
    assert not (kb.root / "versions").exists()
    assert kb.current_version() is None


def consistent_supersessions(kb):
    return {d.id for d in kb.catalog.documents("superseded")} == set(kb.catalog.supersessions())


def test_publish_keeping_a_superseded_document_keeps_it_superseded(kb):
    # E.g. forgetting another document while a new edition waits to be learned: the old edition's shard is kept.
    old, other = add_text(kb, "old edition", "a.txt"), add_text(kb, "other", "b.txt")
    publish(kb, old.id)                                 # v0001: s0001
    publish(kb, other.id, kept=["s0001"])               # v0002: s0001 s0002
    new = add_text(kb, "new edition", "a.txt")
    kb.catalog.record_supersession(old.id, new.id)
    publish(kb, kept=["s0001"])                         # v0003: s0001 (other forgotten)
    assert kb.catalog.get_document(old.id).status == "superseded"
    assert consistent_supersessions(kb)


def test_rollback_leaves_supersessions_consistent(kb):
    old = add_text(kb, "old edition", "a.txt")
    publish(kb, old.id)                                 # v0001: s0001 holds the old edition
    new = add_text(kb, "new edition", "a.txt")
    kb.catalog.record_supersession(old.id, new.id)
    publish(kb, new.id)                                 # v0002: s0002 holds the new edition only
    kb.rollback("v0001")
    assert consistent_supersessions(kb)


def test_shards_set_aside_wait_for_the_next_publish_unless_what_they_learned_is_gone(kb):
    long, other = add_text(kb, "a long document " * 10), add_text(kb, "another")
    for key, pieces in (("first", (f"{long.id}@0-80",)), ("second", (f"{long.id}@80-160",)), ("other", (other.id,))):
        with kb.staging_dir() as staged:
            kept = kb.set_aside(stage(staged, key, *pieces, steps=1), key)
        assert kb.set_aside_shard(key) == kept and kept.metrics == {"steps": 1}
    kb.purge_document(other.id)  # forgotten: nothing learned from it is kept, set aside or not
    assert kb.set_aside_shard("other") is None and kb.set_aside_shard("first") is None
    with kb.staging_dir() as staged:
        kb.set_aside(stage(staged, "first", f"{long.id}@0-80"), "first")
    (kb.root / "trained" / "half.json").write_text("{}")  # a set-aside that died before its folder was moved
    kb.sweep_leftovers()  # a worker starting again keeps what its learn trained
    assert kb.set_aside_shard("first") is not None and not (kb.root / "trained" / "half.json").exists()
    version = kb.publish([kb.set_aside_shard("first")], kept_shard_ids=[], base_identity="base", metrics={})
    assert version.document_ids == (long.id,) and kb.catalog.get_shard("s0001").document_ids == (f"{long.id}@0-80",)
    assert adapter(kb, "s0001") == "first" and not (kb.root / "trained").exists()
