import sqlite3
import threading

import pytest

from dualbrain.errors import DualBrainError, DuplicateDocument
from dualbrain.store import Catalog, DocumentRecord, JobRecord, VersionRecord
from dualbrain.store.catalog import SCHEMA_VERSION


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    yield catalog
    catalog.close()


def add(catalog, n, source=None):
    sha = f"{n:064x}"
    return catalog.add_document(f"d{n}", sha, source or f"file{n}.txt", "txt", 100 + n, 10 + n)


def test_pragmas_and_schema_version(tmp_path, catalog):
    raw = sqlite3.connect(tmp_path / "catalog.sqlite3")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


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


def test_version_ids_increment(catalog):
    add(catalog, 1)
    assert catalog.next_version_id() == "v0001"
    version = catalog.add_version("v0001", "base-abc", ["d1"], {"final_loss": 0.5, "kinds": (1, 2)})
    assert isinstance(version, VersionRecord)
    assert version.document_ids == ("d1",)
    assert version.metrics == {"final_loss": 0.5, "kinds": [1, 2]}
    assert catalog.get_version("v0001") == version
    assert catalog.next_version_id() == "v0002"
    catalog.add_version("v0002", "base-abc", [], {})
    assert [v.id for v in catalog.versions()] == ["v0001", "v0002"]
    assert catalog.next_version_id() == "v0003"


def test_version_ids_past_9999_compare_as_numbers(catalog):
    catalog.add_version("v9999", "base", [], {})
    catalog.add_version("v10000", "base", [], {})
    assert catalog.next_version_id() == "v10001"


def test_version_with_unknown_document_is_refused(catalog):
    with pytest.raises(DualBrainError, match="unknown documents: d9"):
        catalog.add_version("v0001", "base", ["d9"], {})
    assert catalog.versions() == []


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
    catalog.add_version("v0001", "base", ["d1"], {"loss": 1.0})
    job_id = catalog.create_job("learn", {"x": 1})
    catalog.close()

    reopened = Catalog(path)
    assert [d.id for d in reopened.documents()] == ["d1"]
    assert reopened.get_version("v0001").metrics == {"loss": 1.0}
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
