"""One knowledge base on disk: its documents' text, its catalog, and its published knowledge versions.

Layout of ``root``::

    catalog.sqlite3      documents, versions, jobs
    documents/<id>.txt   extracted text of each document
    staging/<tmp>/       a version being trained (same filesystem as versions/, so publishing is a rename)
    versions/<vid>/      published knowledge networks, never changed after publishing
    CURRENT              id of the version that answers questions
    .lock                held while publishing

Publishing renames a complete staged directory into versions/ and only then flips CURRENT, so a reader
always finds either the old or the new complete version, never a half-written one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dualbrain.store.atomic import atomic_write_text, fsync_dir
from dualbrain.store.catalog import Catalog, DocumentRecord, VersionRecord


class KnowledgeBase:
    """The knowledge base ``name`` stored in directory ``root`` (made by :meth:`initialise`)."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        self.catalog = Catalog(self.root / "catalog.sqlite3")
        self._documents_dir = self.root / "documents"
        self._staging_root = self.root / "staging"
        self._versions_dir = self.root / "versions"
        self._current_file = self.root / "CURRENT"

    @staticmethod
    def initialise(root: Path) -> None:
        """Lay out an empty knowledge base in the existing, empty directory ``root``."""
        for folder in ("documents", "staging", "versions"):
            (root / folder).mkdir()
        Catalog(root / "catalog.sqlite3").close()

    # Documents

    def add_document(self, source_name: str, format: str, text: str, sha256: str, size_bytes: int) -> DocumentRecord:
        """Store a document's text and catalog it as 'pending'; known content raises DuplicateDocument."""
        self.catalog.reject_duplicate(sha256, source_name)  # before any file is written
        doc_id = "d" + sha256[:16]  # 64 bits: a prefix collision is not a practical concern
        path = self._document_path(doc_id)
        atomic_write_text(path, text)
        try:
            return self.catalog.add_document(doc_id, sha256, source_name, format, size_bytes, len(text))
        except BaseException:
            # A concurrent add of the same content writes the same file name; keep it if its row won.
            if self.catalog.find_by_sha256(sha256) is None:
                path.unlink(missing_ok=True)
            raise

    def document_text(self, doc_id: str) -> str:
        self.catalog.get_document(doc_id)  # unknown ids fail with a clear message, not a missing file
        # Bytes, then decode: read_text() would translate '\r\n', and the stored text must come back as given.
        return self._document_path(doc_id).read_bytes().decode("utf-8")

    def documents(self) -> list[DocumentRecord]:
        return self.catalog.documents()

    def _document_path(self, doc_id: str) -> Path:
        return self._documents_dir / f"{doc_id}.txt"

    # Versions

    @contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A fresh empty directory to build a version in; removed on exit unless it was published."""
        staged = Path(tempfile.mkdtemp(prefix="stage-", dir=self._staging_root))
        try:
            yield staged
        finally:
            # ignore_errors: failing to clean up must not hide the exception that brought us here.
            shutil.rmtree(staged, ignore_errors=True)

    def publish(
        self, staged: Path, *, base_identity: str, document_ids: list[str], metrics: dict
    ) -> VersionRecord:
        """Make the complete directory ``staged`` the next version and the current one."""
        with self._publish_lock():
            version_id = self.catalog.next_version_id()
            target = self.version_dir(version_id)
            if target.exists():
                # Left by a publish that died between the rename and the catalog insert: the id has no
                # row, and the lock means nobody else is publishing, so the directory is an orphan.
                shutil.rmtree(target)
            os.rename(staged, target)
            fsync_dir(self._versions_dir)
            try:
                version = self.catalog.add_version(version_id, base_identity, document_ids, metrics)
            except BaseException:
                # Hand the directory back, so versions/ holds only catalogued versions and the
                # caller's staging_dir() cleans it up.
                os.rename(target, staged)
                raise
            atomic_write_text(self._current_file, version_id + "\n")
            self.catalog.set_status(document_ids, "learned")
        return version

    @contextmanager
    def _publish_lock(self) -> Iterator[None]:
        # flock is per open file, so it excludes other threads of this process as well as other processes.
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def current_version(self) -> VersionRecord | None:
        """The version that answers questions, or None before the first publish."""
        try:
            version_id = self._current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return self.catalog.get_version(version_id)

    def current_version_dir(self) -> Path | None:
        version = self.current_version()
        return self.version_dir(version.id) if version else None

    def version_dir(self, version_id: str) -> Path:
        return self._versions_dir / version_id
