"""Train a plan's shards and publish them with the kept shards as the knowledge base's next version.

Nothing is published unless every shard trained: a failure or an interruption leaves the previous version
serving, and the job record says why. A single process sets each shard aside as soon as it is trained, so a run
that stops early (it yielded to another knowledge base's request, or its process died) is taken up where it
stopped: the next run of the same plan finds those shards instead of training them again. Under torchrun /
accelerate launch, with at least as many shards to train as processes, each process trains whole shards alone
(shards are independent: no gradient traffic, and a shard's weights are those a single process trains); with
fewer, all processes train each shard together (DDP). The main process alone writes the catalog (job records,
publish, prune).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace

from accelerate.utils import gather_object

from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.recipe import SourceDocument, learn_documents
from dualbrain.knowledge.sharding import assign_shards
from dualbrain.knowledge.progress import LearnProgress, LossHistory
from dualbrain.knowledge.trainer import EpochHook, processes
from dualbrain.learning.planning import Plan
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store import KnowledgeBase, VersionRecord
from dualbrain.store.knowledge_base import StagedShard
from dualbrain.store.pieces import document_of


class Yielded(Exception):
    """A change stopped between two shards to let another request run first; its trained shards are set aside."""


def train_and_publish(
    kb: KnowledgeBase,
    reasoning: ReasoningNetwork,
    kind: str,
    plan: Plan,
    on_progress: Callable[[LearnProgress], None] | None,
    on_epoch_end: EpochHook | None,
    keep_versions: int,
    request: int | None = None,
    yield_now: Callable[[], bool] | None = None,
) -> tuple[VersionRecord | None, dict]:
    """Train ``plan``'s shards on the plain ``reasoning`` network, publish them with its kept shards, prune old
    versions beyond ``keep_versions``; the version now serving and the run's metrics. ``kind`` names the job,
    ``request`` the queued request it runs for (its progress is found by that id). Where ``yield_now()`` is true
    between two shards, the run raises :class:`Yielded` (a single process only: its shards are set aside)."""
    launched = processes()  # one process, or one of several under torchrun / accelerate launch
    owners = None
    if 1 < launched.num_processes <= len(plan.builds):
        sizes = [sum(map(len, kb.piece_texts(pieces).values())) for pieces, _ in plan.builds]
        owners = assign_shards(sizes, launched.num_processes)
    alone = launched.num_processes == 1
    job = _job(kb, kind, plan, request) if launched.is_main_process else None
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            staged: list[tuple[int, StagedShard]] = []
            trained_here = 0  # a run that took up set-aside shards trains one more before it yields again
            for index, (doc_ids, config) in enumerate(plan.builds):
                if owners is not None and owners[index] != launched.process_index:
                    continue  # another process trains this shard
                documents = _sources(kb, doc_ids)
                key = _set_aside_key(documents, config, reasoning.identity)
                if alone and (trained := kb.set_aside_shard(key)) is not None:
                    staged.append((index, trained))
                    continue
                if alone and yield_now is not None and trained_here and yield_now():
                    raise Yielded(f"yielded to another knowledge base's request after {len(staged)} of "
                                  f"{len(plan.builds)} shards (kept for its next turn)")
                losses = LossHistory()

                def progress(update: LearnProgress, shard: int = index + 1, losses: LossHistory = losses) -> None:
                    if update.phase == "training":
                        losses.add(update.step, update.loss)
                    update = replace(update, shard=shard, shards=len(plan.builds), loss_history=tuple(losses.points))
                    if job is not None:
                        kb.catalog.update_job(job, status="running", progress=update.to_record())
                    if on_progress:
                        on_progress(update)

                directory = stack.enter_context(kb.staging_dir())
                metrics = learn_documents(reasoning, documents, config, directory, progress, on_epoch_end,
                                          kb.derived_dir, data_parallel=owners is None)
                shard = StagedShard(directory, tuple(doc_ids), metrics)
                staged.append((index, kb.set_aside(shard, key) if alone else shard))
                trained_here += 1
            if owners is not None:  # every process learns where the others staged their shards
                staged = sorted(gather_object(staged), key=lambda indexed: indexed[0])
            shards = [shard for _, shard in staged]
            metrics = _version_metrics([shard.metrics for shard in shards], time.perf_counter() - started)
            if launched.is_main_process:  # the main process alone publishes
                kb.publish(shards, kept_shard_ids=plan.kept, base_identity=reasoning.identity, metrics=metrics)
                kb.prune(keep_versions)
            # Inside the stack: the other processes' staged shards stay until the main one has published them.
            launched.wait_for_everyone()
    except Yielded:
        if job is not None:
            kb.catalog.update_job(job, status="queued")  # its request waits its turn; the next run takes this job up
        raise
    except BaseException as error:
        if job is not None:
            kb.catalog.update_job(job, status="failed", error=str(error) or type(error).__name__)
        raise
    if job is not None:
        kb.catalog.update_job(job, status="done")
    return kb.current_version(), metrics


def _job(kb: KnowledgeBase, kind: str, plan: Plan, request: int | None) -> int:
    """The job record of this run: the one a run for the same request left waiting when it yielded, or a new one."""
    params = {"shards": [{"documents": ids, **config.to_dict()} for ids, config in plan.builds], "kept": plan.kept,
              "request": request}
    waiting = kb.catalog.latest_job(request) if request is not None else None
    if waiting is not None and waiting.status == "queued":
        if waiting.params == json.loads(json.dumps(params)):
            return waiting.id
        kb.catalog.update_job(waiting.id, status="failed", error="planned again: what it was to learn changed")
    return kb.catalog.create_job(kind, params)


def _sources(kb: KnowledgeBase, pieces: list[str]) -> list[SourceDocument]:
    """The documents, or pieces of them, that one shard learns (a piece goes by its own name: it has drafts of its
    own)."""
    return [SourceDocument(piece, doc.sha256, doc.source_name, text) for piece, text in kb.piece_texts(pieces).items()
            for doc in [kb.catalog.get_document(document_of(piece))]]


def _set_aside_key(documents: list[SourceDocument], config: LearnConfig, base_identity: str) -> str:
    """What a shard is trained from, as a name: the same documents (by content and span), settings and base model
    train the same shard."""
    made_of = json.dumps([[[doc.id, doc.sha256] for doc in documents], config.to_dict(), base_identity], sort_keys=True)
    return hashlib.sha256(made_of.encode()).hexdigest()[:32]


def _version_metrics(shard_metrics: list[dict], seconds: float) -> dict:
    """A publish's totals over the shards it trained."""
    return {
        "shards_trained": len(shard_metrics),
        "characters_trained": sum(m["characters"] for m in shard_metrics),
        "learn_seconds": round(seconds, 1),
        "tokens_trained": sum(m["tokens_trained"] for m in shard_metrics),
        "teacher_tokens": sum(m.get("teacher_tokens", 0) for m in shard_metrics),  # shards from before distillation: 0
        "steps": sum(m["steps"] for m in shard_metrics),
        "train_seconds": round(sum(m["train_seconds"] for m in shard_metrics), 1),
        "shards": shard_metrics,
    }
