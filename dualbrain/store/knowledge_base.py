"""One knowledge base on disk: its documents' text, its catalog, and its knowledge shards and versions.

Layout of ``root``::

    catalog.sqlite3      documents, shards, versions, jobs
    documents/<id>.txt   extracted text of each document
    derived/<id>/        training material made from one document (cached self-study questions); that of a
                         piece of a long document (store/pieces.py) in derived/<id>/<start>-<end>/
    staging/<tmp>/       a shard being trained (same filesystem as shards/, so publishing is a rename)
    trained/<key>/       a shard of a learn that has not published yet (it yielded to another knowledge base's
                         request, or its worker died): its next run takes it instead of training it again
    shards/<sid>/        trained knowledge shards, never changed after publishing
    CURRENT              id of the version that answers questions
    .lock                held while publishing, rolling back or purging
    .job-lock            held for a whole learn or forget, so that two never plan from the same version

A version is a catalog row naming its shards. Publishing renames complete staged shards into shards/,
records them and the version, and only then flips CURRENT, so a reader always finds either the old or
the new complete version, never a half-written one. Shards no kept version names are deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dualbrain.errors import DualBrainError, JobRunning, UnknownKnowledgeBase
from dualbrain.store.atomic import atomic_write_text, fsync_dir
from dualbrain.store.catalog import Catalog
from dualbrain.store.pieces import document_of, piece_text, span_of
from dualbrain.store.records import DocumentRecord, VersionRecord


@dataclass(frozen=True)
class StagedShard:
    """A trained shard waiting in staging/ to be published."""

    path: Path
    document_ids: tuple[str, ...]
    metrics: dict


class KnowledgeBase:
    """The knowledge base ``name`` stored in directory ``root`` (made by :meth:`initialise`)."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        # Which directory this is: a job checks it still is the one at ``root`` (not deleted, nor a namesake).
        self._identity = self.root.stat().st_ino
        self.catalog = Catalog(self.root / "catalog.sqlite3")
        self._documents_dir = self.root / "documents"
        self._derived_root = self.root / "derived"
        self._staging_root = self.root / "staging"
        self._trained_root = self.root / "trained"
        self._shards_dir = self.root / "shards"
        self._current_file = self.root / "CURRENT"
        # A schema-1 layout kept one adapter per version in versions/; its presence, not the catalog's
        # schema (already migrated if a run died half way), says that layout is still to be removed.
        if (self.root / "versions").is_dir():
            self._drop_monolithic_versions()

    @staticmethod
    def initialise(root: Path) -> None:
        """Lay out an empty knowledge base in the existing, empty directory ``root``."""
        for folder in ("documents", "derived", "staging", "shards"):
            (root / folder).mkdir()
        Catalog(root / "catalog.sqlite3").close()

    def _drop_monolithic_versions(self) -> None:
        # A catalog just migrated from schema 1: its documents stay (pending); its one-adapter versions go.
        with self._lock():
            self._current_file.unlink(missing_ok=True)
            shutil.rmtree(self.root / "versions", ignore_errors=True)
            for folder in (self._derived_root, self._shards_dir):
                folder.mkdir(exist_ok=True)

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

    def piece_texts(self, pieces: Iterable[str]) -> dict[str, str]:
        """The text of each document, or of the piece of one, that ``pieces`` name (each document read once)."""
        pieces = list(pieces)
        texts = {doc_id: self.document_text(doc_id) for doc_id in dict.fromkeys(map(document_of, pieces))}
        return {piece: piece_text(texts[document_of(piece)], piece) for piece in pieces}

    def derived_dir(self, piece: str) -> Path:
        """Where material derived from one document, or from a piece of one, is cached; purged with the document."""
        return self._derived_root / document_of(piece) / span_of(piece)

    # Shards and versions

    @contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A fresh empty directory to build a shard in; removed on exit unless it was published."""
        staged = Path(tempfile.mkdtemp(prefix="stage-", dir=self._staging_root))
        try:
            yield staged
        finally:
            # ignore_errors: failing to clean up must not hide the exception that brought us here.
            shutil.rmtree(staged, ignore_errors=True)

    def set_aside(self, staged: StagedShard, key: str) -> StagedShard:
        """Keep a trained shard that is not published yet under ``key`` (what it was trained from), where a later
        run of the same learn finds it (:meth:`set_aside_shard`); the next publish, or a purge, removes what is left."""
        self._trained_root.mkdir(exist_ok=True)
        target = self._trained_root / key
        shutil.rmtree(target, ignore_errors=True)
        atomic_write_text(self._trained_root / f"{key}.json",
                          json.dumps({"document_ids": list(staged.document_ids), "metrics": staged.metrics}))
        os.rename(staged.path, target)
        fsync_dir(self._trained_root)
        return StagedShard(target, staged.document_ids, staged.metrics)

    def set_aside_shard(self, key: str) -> StagedShard | None:
        """The shard set aside under ``key``, if one is."""
        path, record = self._trained_root / key, self._trained_root / f"{key}.json"
        if not (path.is_dir() and record.is_file()):
            return None
        kept = json.loads(record.read_text(encoding="utf-8"))
        return StagedShard(path, tuple(kept["document_ids"]), kept["metrics"])

    def publish(
        self, new_shards: list[StagedShard], *, kept_shard_ids: list[str], base_identity: str, metrics: dict
    ) -> VersionRecord:
        """Make ``kept_shard_ids`` plus the complete staged ``new_shards`` the next version and the current one."""
        with self._lock():
            shard_ids = list(kept_shard_ids)
            for staged in new_shards:
                shard_id = self.catalog.next_shard_id()
                target = self.shard_dir(shard_id)
                if target.exists():
                    # Left by a publish that died between the rename and the catalog insert: the id has no
                    # row, and the lock means nobody else is publishing, so the directory is an orphan.
                    shutil.rmtree(target)
                os.rename(staged.path, target)
                fsync_dir(self._shards_dir)
                self.catalog.add_shard(shard_id, base_identity, staged.document_ids, staged.metrics)
                shard_ids.append(shard_id)
            shutil.rmtree(self._trained_root, ignore_errors=True)  # what a change set aside is published or stale
            # A failure from here on leaves the new shards unreferenced; the next collection removes them.
            version = self.catalog.add_version(self.catalog.next_version_id(), base_identity, shard_ids, metrics)
            atomic_write_text(self._current_file, version.id + "\n")
            self._mark_learned(version)
        return version

    def _mark_learned(self, version: VersionRecord) -> None:
        # A superseded document stays superseded even where a kept shard still holds it: the next learn
        # replaces it there by its new edition. One withdrawn while this version trained stays 'forgetting'.
        self.catalog.set_status(set(version.document_ids) - set(self.catalog.supersessions()), "learned",
                                unless="forgetting")

    def rollback(self, version_id: str) -> VersionRecord:
        """Serve the kept version ``version_id`` again; documents outside it become 'pending'. Refused for a version
        that holds a document being forgotten (a forget that failed is finished by forgetting it again)."""
        with self._lock():
            version = self.catalog.get_version(version_id)
            if leaving := sorted({doc.id for doc in self.catalog.documents("forgetting")} & set(version.document_ids)):
                raise DualBrainError(f"version {version.id} holds {len(leaving)} document(s) being forgotten "
                                     f"({', '.join(leaving)}); roll back to a version without them")
            atomic_write_text(self._current_file, version.id + "\n")
            self._statuses_follow(version)
        return version

    def _statuses_follow(self, version: VersionRecord) -> None:
        """Documents' statuses as ``version`` serving makes them: those outside it 'pending', those in it 'learned'."""
        learned = {doc.id for doc in self.catalog.documents("learned")}
        self.catalog.set_status(learned - set(version.document_ids), "pending")
        self._mark_learned(version)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions (never the current one); returns the deleted ids."""
        if keep < 1:
            raise DualBrainError("at least one version must be kept")
        with self._lock():
            current = self._current_id()
            versions = [v.id for v in self.catalog.versions()]
            doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v != current]
            self._delete_versions(doomed)
        return doomed

    def purge_document(self, doc_id: str) -> list[str]:
        """Delete a document and everything made from it: its text and derived material, every version and
        shard that learned from it, its catalog row (last: until then a rerun of forget finds it, marked
        'forgetting' by the caller so nothing learns or retrieves it), and leftovers of interrupted runs.
        The current version must no longer hold it. A document it had superseded is restored. Returns the
        deleted versions. The caller holds the job lock."""
        with self._lock():
            self.catalog.get_document(doc_id)
            current = self.current_version()
            if current is not None and doc_id in current.document_ids:
                raise DualBrainError(f"document {doc_id} is still in the current version {current.id}")
            doomed = [v.id for v in self.catalog.versions() if doc_id in v.document_ids]
            shutil.rmtree(self.derived_dir(doc_id), ignore_errors=True)
            shutil.rmtree(self._trained_root, ignore_errors=True)  # shards set aside may hold it
            self._document_path(doc_id).unlink(missing_ok=True)
            self._delete_versions(doomed)
            restored = self.catalog.forget_document(doc_id)
            if current is not None:
                self.catalog.set_status([old for old in restored if old in current.document_ids], "learned")
            self._sweep()
        return doomed

    def _sweep(self) -> None:
        """Remove files no catalog row accounts for: staged shards of dead runs, shard directories of a
        publish that died before recording them, derived material of deleted documents. Shards set aside stay for
        the learn that resumes, unless a document they learned is gone. The caller holds the job lock (these are
        written only under it; document text is not, so it is not swept)."""
        documents = {doc.id for doc in self.catalog.documents()}
        shards = {shard.id for shard in self.catalog.shards()}
        for staged in self._staging_root.iterdir():
            shutil.rmtree(staged, ignore_errors=True)
        for path in self._shards_dir.iterdir():
            if path.name not in shards:
                shutil.rmtree(path, ignore_errors=True)
        for path in self._derived_root.iterdir():
            if path.name not in documents:
                shutil.rmtree(path, ignore_errors=True)
        for path in self._trained_root.glob("*.json"):
            kept = self.set_aside_shard(path.stem)
            if kept is None or not {document_of(piece) for piece in kept.document_ids} <= documents:
                shutil.rmtree(path.with_suffix(""), ignore_errors=True)
                path.unlink(missing_ok=True)

    @contextmanager
    def job_lock(self, wait: bool = True) -> Iterator[None]:
        """Held for a whole learn, forget or consolidation: plans are made from the current version and must
        still hold when they are published, and staged work must not be swept away by another process.
        ``wait=False`` raises :class:`JobRunning` instead of waiting for a running job."""
        try:
            fd = os.open(self.root / ".job-lock", os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            raise UnknownKnowledgeBase(f"knowledge base '{self.name}' was deleted") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise JobRunning(f"knowledge base '{self.name}' is learning, forgetting or consolidating; "
                                 "try again when it has finished") from None
            # Deleted while this waited (the lock file went with it), perhaps made again under the same name: a
            # job must not write into a base that is gone, nor into its namesake.
            if not self.is_present():
                raise UnknownKnowledgeBase(f"knowledge base '{self.name}' was deleted")
            yield
        finally:
            os.close(fd)

    def is_present(self) -> bool:
        """Whether this knowledge base's directory is still the one at its path."""
        try:
            return self.root.stat().st_ino == self._identity
        except FileNotFoundError:
            return False

    def sweep_leftovers(self) -> None:
        """Remove what interrupted jobs left (staged shards and the like, see :meth:`_sweep`), and set the
        documents' statuses a publish or rollback that died after switching ``CURRENT`` did not; unless a job runs."""
        try:
            with self.job_lock(wait=False), self._lock():
                self._sweep()
                if (current := self.current_version()) is not None:
                    self._statuses_follow(current)
        except JobRunning:
            pass  # that job's staging is its own; the next start sweeps what it leaves

    def _delete_versions(self, version_ids: list[str]) -> None:
        """Drop versions, then every shard no remaining version names (rows, then directories); lock held."""
        remaining = [v for v in self.catalog.versions() if v.id not in version_ids]
        referenced = {shard_id for version in remaining for shard_id in version.shard_ids}
        unreferenced = [shard.id for shard in self.catalog.shards() if shard.id not in referenced]
        self.catalog.delete_versions_and_shards(version_ids, unreferenced)
        for shard_id in unreferenced:
            shutil.rmtree(self.shard_dir(shard_id), ignore_errors=True)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        # flock is per open file, so it excludes other threads of this process as well as other processes.
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _current_id(self) -> str | None:
        try:
            return self._current_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def current_version(self) -> VersionRecord | None:
        """The version that answers questions, or None before the first publish."""
        version_id = self._current_id()
        return self.catalog.get_version(version_id) if version_id else None

    def shard_documents(self, version: VersionRecord | None) -> dict[str, list[str]]:
        """Shard id → the documents it learned (ids, or pieces of long ones: store/pieces.py), in the order it
        learned them, for each shard of ``version`` (none for no version)."""
        if version is None:
            return {}
        return {shard_id: list(self.catalog.get_shard(shard_id).document_ids) for shard_id in version.shard_ids}

    def shard_dir(self, shard_id: str) -> Path:
        return self._shards_dir / shard_id
