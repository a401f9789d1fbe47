import sqlite3
import threading

import pytest

from dualbrain.errors import DualBrainError, DuplicateDocument
from dualbrain.store import Catalog, DocumentRecord, JobRecord, VersionRecord
from dualbrain.store.catalog import SCHEMA_VERSION
from dualbrain.store.records import ShardRecord


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    yield catalog
    catalog.close()


def make_schema_1_catalog(path):
    """A catalog as schema 1 wrote it: one learned document and one monolithic version."""
    raw = sqlite3.connect(path)
    raw.executescript("""
        CREATE TABLE documents (
            id TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, source_name TEXT NOT NULL, format TEXT NOT NULL,
            size_bytes INTEGER NOT NULL, chars INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'learned', 'failed')), added_at TEXT NOT NULL);
        CREATE TABLE versions (
            id TEXT PRIMARY KEY, created_at TEXT NOT NULL, base_identity TEXT NOT NULL,
            document_ids TEXT NOT NULL, metrics TEXT NOT NULL);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')), params TEXT NOT NULL,
            progress TEXT, error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO documents VALUES ('d1', 'abc', 'old.txt', 'txt', 3, 3, 'learned', '2024-01-01T00:00:00+00:00');
        INSERT INTO versions VALUES ('v0001', '2024-01-01T00:00:00+00:00', 'base', '["d1"]', '{}');
        INSERT INTO jobs (kind, status, params, created_at, updated_at) VALUES ('learn', 'done', '{}', 'x', 'x');
        PRAGMA user_version = 1;
    """)
    raw.close()


def add(catalog, n, source=None):
    sha = f"{n:064x}"
    return catalog.add_document(f"d{n}", sha, source or f"file{n}.txt", "txt", 100 + n, 10 + n)


def test_pragmas_and_schema_version(tmp_path, catalog):
    raw = sqlite3.connect(tmp_path / "catalog.sqlite3")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_schema_1_is_migrated(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    make_schema_1_catalog(path)
    catalog = Catalog(path)
    [doc] = catalog.documents()
    assert (doc.id, doc.source_name, doc.status) == ("d1", "old.txt", "pending")
    assert catalog.versions() == [] and catalog.shards() == []
    assert catalog.next_version_id() == "v0001"
    assert [j.kind for j in catalog.jobs()] == ["learn"]
    catalog.record_supersession("d1", add(catalog, 2).id)  # the new status is allowed
    catalog.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    reopened = Catalog(path)  # opening a migrated catalog again changes nothing
    assert reopened.get_document("d1").status == "superseded"
    reopened.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(DualBrainError, match="newer dualbrain"):
        Catalog(path)


def test_add_and_read_documents(catalog):
    record = add(catalog, 1)
    assert isinstance(record, DocumentRecord)
    assert (record.id, record.status, record.size_bytes, record.chars) == ("d1", "pending", 101, 11)
    assert record.added_at.endswith("+00:00")
    assert catalog.get_document("d1") == record
    assert catalog.find_by_sha256(record.sha256) == record
    assert catalog.find_by_sha256("0" * 63 + "f") is None


def test_documents_in_order_and_by_status(catalog):
    first, second, third = add(catalog, 3), add(catalog, 1), add(catalog, 2)
    assert [d.id for d in catalog.documents()] == [first.id, second.id, third.id]
    catalog.set_status(["d1", "d2"], "learned")
    assert [d.id for d in catalog.documents("learned")] == ["d1", "d2"]
    assert [d.id for d in catalog.documents("pending")] == ["d3"]
    assert catalog.documents("failed") == []


def test_duplicate_content_is_rejected(catalog):
    add(catalog, 1, source="handbook.pdf")
    with pytest.raises(DuplicateDocument) as raised:
        catalog.add_document("dother", f"{1:064x}", "copy.pdf", "pdf", 1, 1)
    assert raised.value.source == "copy.pdf"
    assert raised.value.reason == "same content as document d1 (handbook.pdf)"
    assert len(catalog.documents()) == 1


def test_get_unknown_document(catalog):
    with pytest.raises(DualBrainError, match="unknown document 'nope'"):
        catalog.get_document("nope")


def test_set_status_is_all_or_nothing(catalog):
    add(catalog, 1)
    with pytest.raises(DualBrainError, match="unknown documents: nope"):
        catalog.set_status(["d1", "nope"], "learned")
    assert catalog.get_document("d1").status == "pending"


def test_set_status_rejects_unknown_status(catalog):
    add(catalog, 1)
    with pytest.raises(sqlite3.IntegrityError):
        catalog.set_status(["d1"], "done")
    assert catalog.get_document("d1").status == "pending"


def test_versions_record_their_shards(catalog):
    add(catalog, 1)
    catalog.add_shard("s0001", "base-abc", ["d1"], {})
    assert catalog.next_version_id() == "v0001"
    version = catalog.add_version("v0001", "base-abc", ["s0001"], {"final_loss": 0.5, "kinds": (1, 2)})
    assert isinstance(version, VersionRecord)
    assert (version.shard_ids, version.document_ids) == (("s0001",), ("d1",))
    assert version.metrics == {"final_loss": 0.5, "kinds": [1, 2]}
    assert catalog.get_version("v0001") == version
    catalog.add_version("v0002", "base-abc", [], {})
    assert [v.id for v in catalog.versions()] == ["v0001", "v0002"]


def test_ids_are_never_handed_out_twice(catalog):
    assert [catalog.next_version_id() for _ in range(3)] == ["v0001", "v0002", "v0003"]
    catalog.add_version("v0003", "base", [], {})
    catalog.delete_versions_and_shards(["v0003"], [])
    assert catalog.next_version_id() == "v0004"  # a deleted id is not reused
    assert catalog.next_shard_id() == "s0001"  # shards count on their own
    catalog._conn.execute("UPDATE counters SET value = 9999 WHERE name = 'v'")
    assert catalog.next_version_id() == "v10000"


def test_shards_and_version_documents_come_from_shards(catalog):
    for n in (1, 2, 3):
        add(catalog, n)
    shard = catalog.add_shard("s0001", "base", ["d1", "d2"], {"loss": (0.5,)})
    assert isinstance(shard, ShardRecord)
    assert (shard.document_ids, shard.metrics) == (("d1", "d2"), {"loss": [0.5]})
    assert catalog.get_shard("s0001") == shard
    catalog.add_shard("s0002", "base", ["d3"], {})
    assert [s.id for s in catalog.shards()] == ["s0001", "s0002"]

    version = catalog.add_version("v0001", "base", ["s0002", "s0001"], {})
    assert version.shard_ids == ("s0002", "s0001")
    assert version.document_ids == ("d3", "d1", "d2")
    assert catalog.get_version("v0001") == version


def test_shard_with_unknown_document_is_refused(catalog):
    add(catalog, 1)
    with pytest.raises(DualBrainError, match="shard s0001 names unknown documents: d9"):
        catalog.add_shard("s0001", "base", ["d1", "d9"], {})
    assert catalog.shards() == []
    with pytest.raises(DualBrainError, match="unknown shard 's0001'"):
        catalog.get_shard("s0001")


def test_version_with_unknown_shard_is_refused(catalog):
    add(catalog, 1)
    catalog.add_shard("s0001", "base", ["d1"], {})
    with pytest.raises(DualBrainError, match="version v0001 names unknown shard 's0009'"):
        catalog.add_version("v0001", "base", ["s0001", "s0009"], {})
    assert catalog.versions() == []


def test_delete_versions_and_shards(catalog):
    add(catalog, 1)
    for shard_id in ("s0001", "s0002"):
        catalog.add_shard(shard_id, "base", ["d1"], {})
    catalog.add_version("v0001", "base", ["s0001"], {})
    catalog.add_version("v0002", "base", ["s0002"], {})
    catalog.delete_versions_and_shards(["v0001"], ["s0001"])
    assert [v.id for v in catalog.versions()] == ["v0002"]
    assert [s.id for s in catalog.shards()] == ["s0002"]


def test_supersession_marks_old_document(catalog):
    add(catalog, 1)
    add(catalog, 2)
    catalog.set_status(["d1"], "learned")
    catalog.record_supersession("d1", "d2")
    assert catalog.get_document("d1").status == "superseded"
    assert catalog.get_document("d2").status == "pending"
    assert catalog.supersessions() == {"d1": "d2"}
    assert [d.id for d in catalog.documents("superseded")] == ["d1"]


def test_supersession_of_unknown_document_changes_nothing(catalog):
    add(catalog, 1)
    with pytest.raises(DualBrainError, match="unknown documents: d9"):
        catalog.record_supersession("d1", "d9")
    assert catalog.supersessions() == {}
    assert catalog.get_document("d1").status == "pending"


def test_forget_document_leaves_only_a_tombstone(catalog):
    add(catalog, 1)
    add(catalog, 2)
    catalog.record_supersession("d1", "d2")
    catalog.forget_document("d1")
    with pytest.raises(DualBrainError, match="unknown document 'd1'"):
        catalog.get_document("d1")
    assert [d.id for d in catalog.documents()] == ["d2"]
    assert catalog.find_by_sha256(f"{1:064x}") is None
    assert catalog.supersessions() == {}
    assert len(catalog.forgotten()) == 1  # a time only: the id is a content hash
    assert add(catalog, 1).status == "pending"  # the same content may be added again
    with pytest.raises(DualBrainError, match="unknown document 'd9'"):
        catalog.forget_document("d9")


def test_get_unknown_version(catalog):
    with pytest.raises(DualBrainError, match="unknown version 'v0042'"):
        catalog.get_version("v0042")


def test_job_lifecycle(catalog):
    job_id = catalog.create_job("learn", {"documents": ["d1"], "epochs": 2})
    job = catalog.get_job(job_id)
    assert isinstance(job, JobRecord)
    assert (job.kind, job.status, job.params, job.progress, job.error) == (
        "learn", "queued", {"documents": ["d1"], "epochs": 2}, None, None
    )

    catalog.update_job(job_id, status="running", progress={"step": 3, "total_steps": 10})
    running = catalog.get_job(job_id)
    assert running.status == "running"
    assert running.progress == {"step": 3, "total_steps": 10}
    assert running.updated_at >= job.updated_at
    assert running.created_at == job.created_at

    catalog.update_job(job_id, status="failed", error="out of memory")
    failed = catalog.get_job(job_id)
    assert (failed.status, failed.error, failed.progress) == ("failed", "out of memory", {"step": 3, "total_steps": 10})

    second = catalog.create_job("learn", {})
    assert second > job_id
    assert [j.id for j in catalog.jobs()] == [job_id, second]


def test_unknown_job(catalog):
    with pytest.raises(DualBrainError, match="unknown job 7"):
        catalog.get_job(7)
    with pytest.raises(DualBrainError, match="unknown job 7"):
        catalog.update_job(7, status="done")


def test_job_status_is_checked(catalog):
    job_id = catalog.create_job("learn", {})
    with pytest.raises(sqlite3.IntegrityError):
        catalog.update_job(job_id, status="exploded")


def test_catalog_survives_reopen(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    catalog = Catalog(path)
    add(catalog, 1)
    catalog.add_shard(catalog.next_shard_id(), "base", ["d1"], {})
    catalog.add_version(catalog.next_version_id(), "base", ["s0001"], {"loss": 1.0})
    job_id = catalog.create_job("learn", {"x": 1})
    catalog.close()

    reopened = Catalog(path)
    assert [d.id for d in reopened.documents()] == ["d1"]
    assert reopened.get_version("v0001").metrics == {"loss": 1.0}
    assert reopened.get_version("v0001").document_ids == ("d1",)
    assert reopened.next_shard_id() == "s0002"
    assert reopened.get_job(job_id).params == {"x": 1}
    assert reopened.next_version_id() == "v0002"
    reopened.close()


def test_concurrent_use_from_threads(catalog):
    errors = []

    def worker(start):
        try:
            for n in range(start, start + 20):
                add(catalog, n)
                catalog.documents()
        except Exception as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(catalog.documents()) == 80


def test_two_catalogs_on_one_file(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    writer, reader = Catalog(path), Catalog(path)
    add(writer, 1)
    assert [d.id for d in reader.documents()] == ["d1"]
    with pytest.raises(DuplicateDocument):
        add(reader, 1)
    writer.close()
    reader.close()
