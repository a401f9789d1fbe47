"""The learning recipe: a shard's documents → training signals → trained knowledge network → a shard directory
(the network's own files and the manifest, ``shard_format.py``).

A shard is a function of its documents, the configuration and the base model only: the self-study drafts
of a document depend on that document alone (cached per document), and training is seeded. So a shard
rebuilt without a forgotten document is the shard that would have been trained had it never been seen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from dualbrain.knowledge.anchors import fact_pairs
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.distillation import teach
from dualbrain.knowledge.network import network_for
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.questions import draft_questions, select_questions
from dualbrain.knowledge.shard_format import write_manifest
from dualbrain.knowledge.signals import SelfStudy, TrainingExample, build_signals
from dualbrain.knowledge.trainer import EpochHook, train_knowledge
from dualbrain.knowledge.updates import as_of_now
from dualbrain.knowledge.wordings import framed_questions
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store.atomic import atomic_write_text

DRAFTS_FILE = "questions.json"
# Bump when drafting changes (prompts, examples, decoding), so that cached drafts are written again.
DRAFTS_FORMAT = 2  # 2: drafting examples that ask for a sentence's subject


@dataclass(frozen=True)
class SourceDocument:
    id: str
    sha256: str
    source_name: str
    text: str


def self_study_drafts(
    reasoning: ReasoningNetwork,
    documents: list[SourceDocument],
    cache_dir: Callable[[str], Path] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict[tuple[str, str], list[str]]:
    """The frozen model's question drafts for every fact pair of ``documents``, by pair.

    With ``cache_dir(document id)``, drafts are read from and written to that document's folder, so a
    shard rebuilt after a change does not ask the model again; the cache is tied to the base model.
    """
    drafts: dict[tuple[str, str], list[str]] = {}
    missing = []
    for doc in documents:
        pairs, path = fact_pairs(doc.text), cache_dir(doc.id) / DRAFTS_FILE if cache_dir else None
        found = _cached_drafts(path, reasoning.identity, pairs)
        if found is None:
            missing.append((pairs, path))
        else:
            drafts.update(zip(pairs, found))
    # The documents not in the cache are drafted in one call: its batches are full, and the worked examples
    # are read once per batch (see generate_batch), whatever the size of each document.
    asked = [pair for pairs, _ in missing for pair in pairs]
    if asked:
        def batch_progress(batch: int, batches: int) -> None:
            if on_batch:
                on_batch(len(asked) * batch // batches, len(asked))

        drafts.update(zip(asked, draft_questions(reasoning, asked, batch_progress)))
    for pairs, path in missing:
        if path is not None:
            payload = {"format": DRAFTS_FORMAT, "base_identity": reasoning.identity, "pairs": pairs,
                       "drafts": [drafts[pair] for pair in pairs]}
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(payload))
    return drafts


def _cached_drafts(path: Path | None, base_identity: str, pairs: list[tuple[str, str]]) -> list[list[str]] | None:
    if path is None or not path.is_file():
        return None
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: draft again rather than fail
    if (cached.get("format"), cached.get("base_identity")) != (DRAFTS_FORMAT, base_identity):
        return None
    if [tuple(pair) for pair in cached.get("pairs", [])] != pairs:
        return None
    return cached["drafts"]


def training_examples(
    texts: list[tuple[str, str]], tokenizer: PreTrainedTokenizerBase, config: LearnConfig,
    self_study: SelfStudy | None = None,
) -> list[TrainingExample]:
    """Every training example the recipe makes of ``texts`` (document id, text): the views of ``build_signals``,
    the self-study ones with ``self_study`` questions and the worded one with ``relation_wordings``."""
    framed = framed_questions(texts, config.train.seed) if config.relation_wordings else []
    return build_signals(texts, tokenizer, config.train.max_tokens, config.train.seed, self_study,
                         config.grounded_share, config.abstention_share, framed)


def learn_documents(
    reasoning: ReasoningNetwork,
    documents: list[SourceDocument],
    config: LearnConfig,
    out_dir: Path,
    on_progress: Callable[[LearnProgress], None] | None = None,
    on_epoch_end: EpochHook | None = None,
    drafts_cache: Callable[[str], Path] | None = None,
    data_parallel: bool = True,
) -> dict:
    """Train one knowledge shard on ``documents`` and write it with its manifest into ``out_dir``.

    The base model comes back untouched (knowledge detached). Returns the run's metrics.
    ``drafts_cache(document id)`` is the folder where that document's self-study drafts are kept.
    Under a launcher all processes train the shard together, or with ``data_parallel`` False this one alone
    (see :func:`train_knowledge`); the shard is written by the main process or by the one that trained it.
    """
    network = network_for(config.network)
    started = time.perf_counter()

    def progress(phase: str, done: int, total: int) -> None:  # the phases before training
        if on_progress:
            on_progress(LearnProgress(phase, done, total, 0, float("nan"), 0.0, time.perf_counter() - started))

    texts = [(doc.id, doc.text) for doc in documents]
    if config.newer_facts_win:
        texts = as_of_now(texts)
    learned = [replace(doc, text=text) for doc, (_, text) in zip(documents, texts)]
    self_study = None
    if config.self_study:
        drafts = self_study_drafts(reasoning, learned, drafts_cache, lambda done, total: progress("questions", done, total))
        # Judged together: a draft is kept only where its own fact answers it better than every other fact here.
        pairs = list(dict.fromkeys(pair for _, text in texts for pair in fact_pairs(text)))
        self_study = dict(zip(pairs, select_questions(pairs, [drafts[pair] for pair in pairs])))
    examples = training_examples(texts, reasoning.tokenizer, config, self_study)
    teacher, teacher_tokens, teaching_started = None, 0, time.perf_counter()
    if config.train.distillation:
        teacher, teacher_tokens = teach(reasoning.model, reasoning.tokenizer, texts, examples, config.train,
                                        lambda done, total: progress("teacher", done, total))
    teacher_seconds = time.perf_counter() - teaching_started
    # train_knowledge takes its own knowledge weights off again if training fails; after it returns,
    # they come off here, whether saving works or not, so the base model is always left as it was.
    model, result, accelerator = train_knowledge(
        reasoning.model, reasoning.tokenizer, network, examples, config.train, on_progress, on_epoch_end, data_parallel,
        teacher,
    )
    try:
        metrics = {
            "characters": sum(len(doc.text) for doc in documents),
            "final_loss": round(result.final_loss, 4),
            "steps": result.steps,
            "tokens_trained": result.tokens_trained,
            "train_seconds": round(result.seconds, 1),
            "teacher_tokens": teacher_tokens,  # read, not trained: the distillation teacher's forward passes
            "teacher_seconds": round(teacher_seconds, 1),
            "examples_by_kind": result.examples_by_kind,
            "examples_by_epoch": result.examples_by_epoch,
            "processes": result.processes,
        }
        if accelerator.is_main_process or result.processes == 1:
            network.save(model, out_dir, reasoning.name)
            write_manifest(out_dir, network, reasoning, config.to_dict(),
                           [{"id": d.id, "sha256": d.sha256, "source_name": d.source_name} for d in documents], metrics)
    finally:
        network.detach(model)
    return metrics
