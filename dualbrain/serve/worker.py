"""The learning worker: a process of its own that runs queued learn and forget requests one at a time.

Training uses every core and takes minutes, so it never runs in the server process: answers keep coming
from the published version while the worker trains, and switch to the new version when it is published
(the server reads each knowledge base's ``CURRENT`` pointer per answer). One worker per home: a file lock
makes a second one exit at once. The worker trains on the cores the server's answers leave it
(``serve/cores.py``), re-counted at every training step.

Knowledge bases take turns (``store/queue.py``): a learn stops between two shards when another knowledge base's
request waits, and runs on in its next turn from the shards it trained. A shard learns at most ``shard_chars``
characters (longer documents are learned in pieces), so another tenant waits at most about one shard's training.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import multiprocessing
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.library import Library
from dualbrain.errors import DiskFull, DualBrainError, UnknownKnowledgeBase
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.learning.publishing import Yielded
from dualbrain.quiet import quiet_libraries
from dualbrain.serve.cores import CoreBudget, use_threads
from dualbrain.store import Home
from dualbrain.store.queue import WorkQueue, WorkRequest

log = logging.getLogger(__name__)
MAX_RESTART_DELAY = 300.0
_HEALTHY_SECONDS = 60.0  # a worker that lived this long died of something new: it is started again at once
_FULL_BYTES = 1 << 20


class _ServerGone(BaseException):
    """The server that started this worker has died: stop at once, leaving the request to the next worker
    (a BaseException, so no handler files it as a failed request)."""


def run_worker(home_root: Path, models_dir: Path | None = None, model: str | Path | None = None,
               learn_config: LearnConfig | None = None, poll_seconds: float = 1.0, until_idle: bool = False,
               consolidate: bool = False, server_pid: int | None = None, cores: CoreBudget | None = None) -> None:
    """Serve the queue of the home at ``home_root`` forever (or, with ``until_idle``, until it is empty);
    ``learn_config`` for learning (default: the recipe's; forget retrains with each shard's own). When the
    queue is idle, knowledge bases that learned something are consolidated (``consolidate``; off by default:
    it answers cross-document questions but cost earlier questions accuracy when measured, docs/incremental.md). With
    ``server_pid``, the worker stops when that process is no longer its parent (the server died); with ``cores``,
    it trains on the cores the server's answers leave it."""
    try:
        _serve_queue(Home(home_root, models_dir), model, learn_config, poll_seconds, until_idle, consolidate, server_pid,
                     cores)
    except _ServerGone:
        log.warning("the server is gone; the learning worker stops (its request runs again with the next worker)")
    except Exception as error:
        if not _disk_is_full(error, home_root):
            raise
        raise DiskFull(f"the disk holding {home_root} is full ({shutil.disk_usage(home_root).free:,} bytes free): make "
                       f"room; the request runs again when the worker restarts ({type(error).__name__}: {error})") from error


def _disk_is_full(error: Exception, home_root: Path) -> bool:
    """Whether ``error`` came of a full disk: the system says so, SQLite does, or hardly a byte is left."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
        return True
    if "No space left on device" in str(error):  # safetensors' writer (Rust) says so in its own words
        return True
    try:
        return shutil.disk_usage(home_root).free < _FULL_BYTES
    except OSError:
        return False


def _serve_queue(home: Home, model: str | Path | None, learn_config: LearnConfig | None, poll_seconds: float,
                 until_idle: bool, consolidate: bool, server_pid: int | None, cores: CoreBudget | None) -> None:
    def between_steps(progress: LearnProgress | None = None) -> None:
        if server_pid is not None and os.getppid() != server_pid:
            raise _ServerGone()
        if cores is not None:
            use_threads(cores.training_threads())

    home.root.mkdir(parents=True, exist_ok=True)
    with open(home.worker_lock, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another learning worker serves %s; this one exits", home.root)
            return
        queue = home.queue()
        home.sweep()
        queue.requeue_running()
        _requeue_unfinished_forgets(home, queue)
        library = Library(home, model)  # the base model loads when a request first needs it
        to_consolidate: list[str] = []  # knowledge bases that learned something since they were consolidated
        while True:
            between_steps()
            request = queue.claim()
            if request is None:
                if to_consolidate and consolidate:
                    kb = to_consolidate.pop(0)
                    with cores.learning_now() if cores else nullcontext():
                        yielded = not consolidate_until_preempted(library, kb, queue, learn_config, between_steps)
                    if yielded:
                        to_consolidate.append(kb)  # again at the next idle moment
                    continue
                if until_idle:
                    return
                time.sleep(poll_seconds)
                continue
            try:
                with cores.learning_now() if cores else nullcontext():
                    _run(library.open(request.kb), request, learn_config, between_steps,
                         lambda: queue.others_waiting(request.kb))
            except Yielded:
                log.info("request %s yielded to another knowledge base's request; it runs on in its next turn", request.id)
                queue.requeue(request.id)
            except Exception as error:
                if _disk_is_full(error, home.root):
                    raise  # the request stays running: it runs again when a worker starts with room to write
                if isinstance(error, DualBrainError):
                    queue.finish(request.id, str(error))
                else:  # a bug: keep serving the queue, but say what happened
                    log.exception("request %s failed", request.id)
                    queue.finish(request.id, f"{type(error).__name__}: {error}")
            else:
                queue.finish(request.id)
                if request.kind == "forget":
                    queue.scrub(request.params["document_id"])
                if request.kind == "learn" and request.kb not in to_consolidate:
                    to_consolidate.append(request.kb)


class _Preempted(Exception):
    def __init__(self) -> None:
        super().__init__("consolidation stopped: a request is waiting (it runs again when the queue is idle)")


def consolidate_until_preempted(library: Library, kb: str, queue: WorkQueue, learn_config: LearnConfig | None,
                                on_progress: Callable[[LearnProgress], None] | None = None) -> bool:
    """Consolidate ``kb`` while nothing else waits: a queued upload or forget stops it at the next training
    step (nothing is published, the previous version keeps serving), so consolidation never delays
    learning. False when it yielded (the caller runs it again the next time the queue is idle)."""

    def yield_to_requests(progress: LearnProgress) -> None:
        if on_progress:
            on_progress(progress)
        if queue.counts().get("queued"):
            raise _Preempted()

    try:
        library.open(kb).consolidate(learn_config, yield_to_requests)
    except _Preempted:
        log.info("consolidation of %s yielded to a queued request", kb)
        return False
    except UnknownKnowledgeBase:  # deleted meanwhile
        pass
    except Exception:  # a bug: keep serving the queue
        log.exception("consolidation of %s failed", kb)
    return True


def _requeue_unfinished_forgets(home: Home, queue: WorkQueue) -> None:
    """Queue a forget again for every document whose forget began but never finished (its worker died, or it
    failed): withdrawn, it answers nothing, but its text and what was learned from it are still on disk."""
    for name in home.list_kbs():
        waiting = {work.params.get("document_id") for work in queue.list(name)
                   if work.kind == "forget" and work.status in ("queued", "running")}
        for doc in home.open_kb(name).catalog.documents("forgetting"):
            if doc.id not in waiting:
                queue.enqueue(name, "forget", {"document_id": doc.id})


def _run(brain: DualBrain, request: WorkRequest, learn_config: LearnConfig | None,
         on_progress: Callable[[LearnProgress], None], others_waiting: Callable[[], bool]) -> None:
    if request.kind == "learn":
        brain.learn(config=learn_config, on_progress=on_progress, request=request.id, yield_now=others_waiting)
    elif request.kind == "forget":
        doc_id = request.params["document_id"]
        if any(doc.id == doc_id for doc in brain.kb.documents()):  # else a request before this one forgot it
            brain.forget(doc_id, request=request.id)


class WorkerSupervisor:
    """Keeps the server's learning worker running: starts it, and starts it again when it dies (a crash, the
    out-of-memory killer, a disk that filled up); its request runs again in the new one. One that keeps dying
    at once (a full disk) is started again less and less often, up to every ``MAX_RESTART_DELAY`` seconds: each
    start loads the base model. A worker that ended by itself (exit code 0: another worker serves this home) is
    left ended."""

    def __init__(self, start: Callable[[], multiprocessing.Process], clock: Callable[[], float] = time.monotonic):
        self._start, self._clock = start, clock
        self.process, self._started_at = start(), clock()
        self.restarts, self._delay, self._died_at = 0, 0.0, None

    def check(self) -> None:
        if self.process.is_alive() or self.process.exitcode == 0:
            return
        now = self._clock()
        if self._died_at is None:
            log.warning("the learning worker died (exit code %s); starting it again", self.process.exitcode)
            lived = now - self._started_at
            self._delay = 0.0 if lived >= _HEALTHY_SECONDS else min(max(2 * self._delay, 5.0), MAX_RESTART_DELAY)
            self._died_at = now
        if now - self._died_at >= self._delay:
            self.process, self._started_at, self._died_at = self._start(), now, None
            self.restarts += 1

    def stop(self) -> None:
        self.process.terminate()  # an interrupted learn publishes nothing; its request is queued again next start
        self.process.join(timeout=10)


def start_worker_process(home: Home, model: str | Path | None = None, learn_config: LearnConfig | None = None,
                         consolidate: bool = False, cores: CoreBudget | None = None) -> multiprocessing.Process:
    """The worker in a fresh (spawned) process: no state shared with the server but the files (and ``cores``,
    the shared counters of who computes now)."""
    process = multiprocessing.get_context("spawn").Process(
        target=_run_spawned_worker, args=(home.root, home.models_dir, model, learn_config),
        kwargs={"consolidate": consolidate, "server_pid": os.getpid(), "cores": cores}, name="dualbrain-worker",
        daemon=True,
    )
    process.start()
    return process


def _run_spawned_worker(*arguments: object, **options: object) -> None:
    quiet_libraries()  # a fresh process: the command line's settings did not come with it
    run_worker(*arguments, **options)
