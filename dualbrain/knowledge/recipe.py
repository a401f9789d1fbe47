"""The learning recipe: documents → training signals → trained knowledge network → a version directory.

A version directory holds the knowledge network's own files (for LoRA, a PEFT adapter) and
``manifest.json``: which base model it belongs to (name + identity hash), the exact configuration, the
documents it was trained on (ids and sha256) and the run's metrics. The manifest is what lets
dualbrain refuse to attach knowledge to the wrong base model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dualbrain.errors import DualBrainError, IncompatibleKnowledge
from dualbrain.knowledge.network import KNOWLEDGE_NETWORKS, KnowledgeNetwork, LoraKnowledge, LoraSettings
from dualbrain.knowledge.questions import write_questions
from dualbrain.knowledge.signals import build_signals
from dualbrain.knowledge.trainer import EpochHook, LearnProgress, TrainSettings, train_knowledge
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store.atomic import atomic_write_text

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_REQUIRED_MANIFEST_KEYS = {"base_model", "base_identity", "knowledge_network"}


@dataclass(frozen=True)
class LearnConfig:
    """Everything that determines what a learning run produces (with the documents and base model)."""

    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    # Let the frozen model reword each fact as a question (the `question` view); costs generation time.
    self_study: bool = True

    def to_dict(self) -> dict:
        return {"lora": self.lora.to_dict(), "train": self.train.to_dict(), "self_study": self.self_study}


@dataclass(frozen=True)
class SourceDocument:
    id: str
    sha256: str
    source_name: str
    text: str


def learn_documents(
    reasoning: ReasoningNetwork,
    documents: list[SourceDocument],
    config: LearnConfig,
    out_dir: Path,
    on_progress: Callable[[LearnProgress], None] | None = None,
    on_epoch_end: EpochHook | None = None,
) -> dict:
    """Train a knowledge network on ``documents`` and write it with its manifest into ``out_dir``.

    The base model comes back untouched (knowledge detached). Returns the run's metrics.
    """
    network = LoraKnowledge(config.lora)
    started = time.perf_counter()

    def questions_progress(done: int, total: int) -> None:
        if on_progress:
            on_progress(LearnProgress("questions", done, total, 0, float("nan"), 0.0, time.perf_counter() - started))

    writer = (lambda pairs: write_questions(reasoning, pairs, questions_progress)) if config.self_study else None
    examples = build_signals(
        [(doc.id, doc.text) for doc in documents], reasoning.tokenizer, config.train.max_tokens, config.train.seed, writer
    )
    # train_knowledge takes its own knowledge weights off again if training fails; after it returns,
    # they come off here, whether saving works or not, so the base model is always left as it was.
    model, result, accelerator = train_knowledge(
        reasoning.model, reasoning.tokenizer, network, examples, config.train, on_progress, on_epoch_end
    )
    try:
        metrics = {
            "final_loss": round(result.final_loss, 4),
            "steps": result.steps,
            "tokens_trained": result.tokens_trained,
            "train_seconds": round(result.seconds, 1),
            "examples_by_kind": result.examples_by_kind,
        }
        if accelerator.is_main_process:
            network.save(model, out_dir, reasoning.name)
            manifest = {
                "format": MANIFEST_FORMAT,
                "knowledge_network": network.kind,
                "base_model": reasoning.name,
                "base_identity": reasoning.identity,
                "config": config.to_dict(),
                "documents": [{"id": d.id, "sha256": d.sha256, "source_name": d.source_name} for d in documents],
                "metrics": metrics,
            }
            atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2))
    finally:
        network.detach(model)
    return metrics


def read_manifest(version_dir: Path) -> dict:
    try:
        manifest = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DualBrainError(f"knowledge version {version_dir.name} is unreadable ({error}); relearn") from None
    if not isinstance(manifest, dict) or not _REQUIRED_MANIFEST_KEYS <= manifest.keys():
        raise DualBrainError(f"knowledge version {version_dir.name} is unreadable (incomplete manifest); relearn")
    if manifest.get("format", MANIFEST_FORMAT) > MANIFEST_FORMAT:
        raise DualBrainError(f"knowledge version {version_dir.name} was written by a newer dualbrain; upgrade")
    return manifest


def attach_knowledge(reasoning: ReasoningNetwork, version_dir: Path) -> tuple[KnowledgeNetwork, object]:
    """Attach a published version to the reasoning network, refusing a version made for another model."""
    manifest = read_manifest(version_dir)
    if manifest["base_identity"] != reasoning.identity:
        raise IncompatibleKnowledge(
            f"knowledge in {version_dir.name} was trained on base model '{manifest['base_model']}' "
            f"(identity {manifest['base_identity'][:12]}), not on the loaded '{reasoning.name}' "
            f"(identity {reasoning.identity[:12]}); pass the matching --model"
        )
    # The adapter's own config file says how it is shaped; only the kind of network is needed here.
    if manifest["knowledge_network"] not in KNOWLEDGE_NETWORKS:
        raise DualBrainError(f"knowledge version {version_dir.name} uses an unknown network '{manifest['knowledge_network']}'")
    network = KNOWLEDGE_NETWORKS[manifest["knowledge_network"]]()
    try:
        return network, network.attach(reasoning.model, version_dir)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise DualBrainError(f"knowledge version {version_dir.name} cannot be attached ({error}); relearn") from None
