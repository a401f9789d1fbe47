import hashlib
import os
import threading

import pytest

from dualbrain.errors import DualBrainError, DuplicateDocument
from dualbrain.store import Home


@pytest.fixture
def kb(tmp_path):
    return Home(tmp_path).create_kb("acme")


def add_text(kb, text, source="doc.txt"):
    data = text.encode()
    return kb.add_document(source, "txt", text, hashlib.sha256(data).hexdigest(), len(data))


def stage(staged, content):
    (staged / "adapter.bin").write_text(content)


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


def test_publish_moves_staged_dir_and_flips_current(kb):
    doc = add_text(kb, "first")
    assert kb.current_version() is None
    assert kb.current_version_dir() is None
    with kb.staging_dir() as staged:
        assert staged.parent == kb.root / "staging"
        stage(staged, "weights-1")
        version = kb.publish(staged, base_identity="base-1", document_ids=[doc.id], metrics={"final_loss": 0.1})
        assert not staged.exists()

    assert version.id == "v0001"
    assert kb.current_version() == version
    assert kb.current_version_dir() == kb.version_dir("v0001") == kb.root / "versions" / "v0001"
    assert (kb.current_version_dir() / "adapter.bin").read_text() == "weights-1"
    assert (kb.root / "CURRENT").read_text().strip() == "v0001"
    assert kb.catalog.get_document(doc.id).status == "learned"
    assert os.listdir(kb.root / "staging") == []

    later = add_text(kb, "second")
    with kb.staging_dir() as staged:
        stage(staged, "weights-2")
        second = kb.publish(staged, base_identity="base-1", document_ids=[doc.id, later.id], metrics={})
    assert second.id == "v0002"
    assert kb.current_version().id == "v0002"
    assert (kb.version_dir("v0001") / "adapter.bin").read_text() == "weights-1"  # old versions stay intact
    assert (kb.current_version_dir() / "adapter.bin").read_text() == "weights-2"


def test_failed_publish_keeps_previous_version(kb, monkeypatch):
    doc = add_text(kb, "first")
    with kb.staging_dir() as staged:
        stage(staged, "weights-1")
        kb.publish(staged, base_identity="base-1", document_ids=[doc.id], metrics={})
    new_doc = add_text(kb, "second")

    def broken_add_version(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(kb.catalog, "add_version", broken_add_version)
    with pytest.raises(OSError, match="disk I/O error"):
        with kb.staging_dir() as staged:
            stage(staged, "weights-2")
            kb.publish(staged, base_identity="base-1", document_ids=[doc.id, new_doc.id], metrics={})

    assert kb.current_version().id == "v0001"
    assert (kb.current_version_dir() / "adapter.bin").read_text() == "weights-1"
    assert os.listdir(kb.root / "versions") == ["v0001"]
    assert os.listdir(kb.root / "staging") == []
    assert kb.catalog.get_document(new_doc.id).status == "pending"

    monkeypatch.undo()
    with kb.staging_dir() as staged:
        stage(staged, "weights-2")
        assert kb.publish(staged, base_identity="base-1", document_ids=[new_doc.id], metrics={}).id == "v0002"


def test_publish_replaces_orphan_left_by_a_crash(kb):
    # A publish that died after its rename but before its catalog insert leaves an uncatalogued directory.
    (kb.root / "versions" / "v0001").mkdir()
    (kb.root / "versions" / "v0001" / "junk").write_text("half")
    with kb.staging_dir() as staged:
        stage(staged, "weights")
        version = kb.publish(staged, base_identity="base", document_ids=[], metrics={})
    assert version.id == "v0001"
    assert sorted(os.listdir(kb.version_dir("v0001"))) == ["adapter.bin"]


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

    def publish(kb, n):
        try:
            with kb.staging_dir() as staged:
                stage(staged, f"weights-{n}")
                results.append(kb.publish(staged, base_identity="base", document_ids=[], metrics={"n": n}))
        except Exception as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=publish, args=(kb, n)) for n, kb in enumerate(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(v.id for v in results) == ["v0001", "v0002", "v0003", "v0004"]
    for version in results:
        assert (publishers[0].version_dir(version.id) / "adapter.bin").read_text() == f"weights-{version.metrics['n']}"
    assert publishers[0].current_version().id == "v0004"
