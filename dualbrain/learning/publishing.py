"""Train a plan's shards and publish them with the kept shards as the knowledge base's next version.

Nothing is published unless every shard trained: a failure or an interruption leaves the previous version
serving, and the job record says why. Under torchrun / accelerate launch, with at least as many shards to
train as processes, each process trains whole shards alone (shards are independent: no gradient traffic, and
a shard's weights are those a single process trains); with fewer, all processes train each shard together
(DDP). The main process alone writes the catalog (job records, publish, prune).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace

from accelerate.utils import gather_object

from dualbrain.knowledge.recipe import SourceDocument, learn_documents
from dualbrain.knowledge.sharding import assign_shards
from dualbrain.knowledge.progress import LearnProgress, LossHistory
from dualbrain.knowledge.trainer import EpochHook, processes
from dualbrain.learning.planning import Plan
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store import KnowledgeBase, VersionRecord
from dualbrain.store.knowledge_base import StagedShard


def train_and_publish(
    kb: KnowledgeBase,
    reasoning: ReasoningNetwork,
    kind: str,
    plan: Plan,
    on_progress: Callable[[LearnProgress], None] | None,
    on_epoch_end: EpochHook | None,
    keep_versions: int,
    request: int | None = None,
) -> tuple[VersionRecord | None, dict]:
    """Train ``plan``'s shards on the plain ``reasoning`` network, publish them with its kept shards, prune old
    versions beyond ``keep_versions``; the version now serving and the run's metrics. ``kind`` names the job,
    ``request`` the queued request it runs for (its progress is found by that id)."""
    launched = processes()  # one process, or one of several under torchrun / accelerate launch
    owners = None
    if 1 < launched.num_processes <= len(plan.builds):
        sizes = [sum(kb.catalog.get_document(doc_id).chars for doc_id in ids) for ids, _ in plan.builds]
        owners = assign_shards(sizes, launched.num_processes)
    job = None
    if launched.is_main_process:
        job = kb.catalog.create_job(kind, {"shards": [{"documents": ids, **config.to_dict()} for ids, config in plan.builds],
                                           "kept": plan.kept, "request": request})
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            staged: list[tuple[int, StagedShard]] = []
            for index, (doc_ids, config) in enumerate(plan.builds):
                if owners is not None and owners[index] != launched.process_index:
                    continue  # another process trains this shard
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
                documents = [_source(kb, doc_id) for doc_id in doc_ids]
                metrics = learn_documents(reasoning, documents, config, directory, progress, on_epoch_end,
                                          kb.derived_dir, data_parallel=owners is None)
                staged.append((index, StagedShard(directory, tuple(doc_ids), metrics)))
            if owners is not None:  # every process learns where the others staged their shards
                staged = sorted(gather_object(staged), key=lambda indexed: indexed[0])
            shards = [shard for _, shard in staged]
            metrics = _version_metrics([shard.metrics for shard in shards], time.perf_counter() - started)
            if launched.is_main_process:  # the main process alone publishes
                kb.publish(shards, kept_shard_ids=plan.kept, base_identity=reasoning.identity, metrics=metrics)
                kb.prune(keep_versions)
            # Inside the stack: the other processes' staged shards stay until the main one has published them.
            launched.wait_for_everyone()
    except BaseException as error:
        if job is not None:
            kb.catalog.update_job(job, status="failed", error=str(error) or type(error).__name__)
        raise
    if job is not None:
        kb.catalog.update_job(job, status="done")
    return kb.current_version(), metrics


def _source(kb: KnowledgeBase, doc_id: str) -> SourceDocument:
    doc = kb.catalog.get_document(doc_id)
    return SourceDocument(doc.id, doc.sha256, doc.source_name, kb.document_text(doc.id))


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
