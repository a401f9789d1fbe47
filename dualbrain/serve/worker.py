"""The learning worker: a process of its own that runs queued learn and forget requests one at a time.

Training uses every core and takes minutes, so it never runs in the server process: answers keep coming
from the published version while the worker trains, and switch to the new version when it is published
(the server reads each knowledge base's ``CURRENT`` pointer per answer). One worker per home: a file lock
makes a second one exit at once.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import time
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.reasoning.loader import load_reasoning_network
from dualbrain.store import Home
from dualbrain.store.queue import WorkRequest

log = logging.getLogger(__name__)


def run_worker(home_root: Path, models_dir: Path | None = None, model: str | Path | None = None,
               learn_config: LearnConfig | None = None, poll_seconds: float = 1.0, until_idle: bool = False) -> None:
    """Serve the queue of the home at ``home_root`` forever (or, with ``until_idle``, until it is empty);
    ``learn_config`` for learning (default: the recipe's; forget retrains with each shard's own)."""
    home = Home(home_root, models_dir)
    home.root.mkdir(parents=True, exist_ok=True)
    with open(home.root / "worker.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another learning worker serves %s; this one exits", home.root)
            return
        queue = home.queue()
        queue.requeue_running()
        reasoning = None
        while True:
            request = queue.claim()
            if request is None:
                if until_idle:
                    return
                time.sleep(poll_seconds)
                continue
            reasoning = reasoning or load_reasoning_network(model, home.models_dir)
            try:
                _run(DualBrain(home.open_kb(request.kb), home, reasoning=reasoning), request, learn_config)
            except DualBrainError as error:
                queue.finish(request.id, str(error))
            except Exception as error:  # a bug: keep serving the queue, but say what happened
                log.exception("request %s failed", request.id)
                queue.finish(request.id, f"{type(error).__name__}: {error}")
            else:
                queue.finish(request.id)


def _run(brain: DualBrain, request: WorkRequest, learn_config: LearnConfig | None) -> None:
    if request.kind == "learn":
        brain.learn(config=learn_config)
    elif request.kind == "forget":
        brain.forget(request.params["document_id"])


def start_worker_process(home: Home, model: str | Path | None = None, learn_config: LearnConfig | None = None) -> multiprocessing.Process:
    """The worker in a fresh (spawned) process: no state shared with the server but the files."""
    process = multiprocessing.get_context("spawn").Process(
        target=run_worker, args=(home.root, home.models_dir, model, learn_config), name="dualbrain-worker", daemon=True
    )
    process.start()
    return process
