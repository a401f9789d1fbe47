"""The learning recipe: a shard's documents → training signals → trained knowledge network → a shard directory.

A shard directory holds the knowledge network's own files (for LoRA, a PEFT adapter) and
``manifest.json``: which base model it belongs to (name + identity hash), the exact configuration, the
documents it was trained on (ids and sha256) and the run's metrics. The manifest is what lets
dualbrain refuse to attach knowledge to the wrong base model.

A shard is a function of its documents, the configuration and the base model only: the self-study drafts
of a document depend on that document alone (cached per document), and training is seeded. So a shard
rebuilt without a forgotten document is the shard that would have been trained had it never been seen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from dualbrain.errors import DualBrainError
from dualbrain.knowledge.distillation import teach
from dualbrain.knowledge.network import KNOWLEDGE_NETWORKS, KnowledgeNetwork, LoraKnowledge, LoraSettings
from dualbrain.knowledge.questions import draft_questions, select_questions
from dualbrain.knowledge.signals import SelfStudy, TrainingExample, build_signals, fact_pairs
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.trainer import EpochHook, TrainSettings, train_knowledge
from dualbrain.knowledge.updates import as_of_now
from dualbrain.knowledge.wordings import framed_questions
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store.atomic import atomic_write_text

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
DRAFTS_FILE = "questions.json"
# Bump when drafting changes (prompts, examples, decoding), so that cached drafts are written again.
DRAFTS_FORMAT = 2  # 2: drafting examples that ask for a sentence's subject
_REQUIRED_MANIFEST_KEYS = {"base_model", "base_identity", "knowledge_network"}


@dataclass(frozen=True)
class LearnConfig:
    """Everything that determines what a learning run produces (with the documents and base model)."""

    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    # Let the frozen model reword each fact as a question (the `question` view); costs generation time.
    self_study: bool = True
    # Share of the self-study questions also trained with retrieved passages in the prompt (the `grounded`
    # view), so the `knowledge+rag` mode answers from the knowledge instead of reciting the passages.
    grounded_share: float = 0.25
    # About this share of the self-study questions again, asked of a near-miss name or of a known thing that
    # lacks what they ask about, answered by a decline (the `abstain` view). Off: with LoRA+ it declined
    # questions about known things and cost 11 points of answerable accuracy for 2 of 12 declines (recipe.md).
    abstention_share: float = 0.0
    # Read each older document as of now: values a later document restates differently are learned with the
    # newer value (see ``updates.py``); knowledge+rag retrieves the documents so too.
    newer_facts_win: bool = True
    # Ask each relation a fact states ("the chief executive of X is Y") in one more wording people use ("who
    # runs X?", and "what does Y run?"), drawn from a relation lexicon (the `worded` view, see ``wordings.py``),
    # in place of its cloze turn. On: held-out question wordings 91 → 112 of 200 over four (corpus, seed)
    # pairs, for 3% more tokens (docs/recipe.md).
    relation_wordings: bool = True
    # Documents learned together are packed into shards of at most this many characters (a longer
    # document is a shard of its own). Adding, updating or forgetting a document retrains one shard,
    # so this bounds the cost of a change; larger shards keep more related facts together.
    shard_chars: int = 8000

    def __post_init__(self) -> None:
        if self.shard_chars < 1:
            raise ValueError(f"invalid shard size: {self.shard_chars}")
        if not 0.0 <= self.grounded_share <= 1.0:
            raise ValueError(f"invalid grounded share: {self.grounded_share}")
        if not 0.0 <= self.abstention_share <= 1.0:
            raise ValueError(f"invalid abstention share: {self.abstention_share}")

    @classmethod
    def from_dict(cls, data: dict) -> "LearnConfig":
        """The configuration :meth:`to_dict` wrote (a shard's manifest), to rebuild that shard alike."""
        # Shards trained before LoRA+ gave A and B one learning rate; those before the grounded view (and the
        # other options) were trained without it.
        lora = {"b_lr_ratio": 1.0} | data["lora"] | {"target_modules": tuple(data["lora"]["target_modules"])}
        return cls(LoraSettings(**lora), TrainSettings(**data["train"]), self_study=data["self_study"],
                   grounded_share=data.get("grounded_share", 0.0), abstention_share=data.get("abstention_share", 0.0),
                   newer_facts_win=data.get("newer_facts_win", False), relation_wordings=data.get("relation_wordings", False),
                   shard_chars=data["shard_chars"])

    def to_dict(self) -> dict:
        return {
            "lora": self.lora.to_dict(),
            "train": self.train.to_dict(),
            "self_study": self.self_study,
            "shard_chars": self.shard_chars,
            "grounded_share": self.grounded_share,
            "abstention_share": self.abstention_share,
            "newer_facts_win": self.newer_facts_win,
            "relation_wordings": self.relation_wordings,
        }


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
    network = LoraKnowledge(config.lora)
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
            "processes": result.processes,
        }
        if accelerator.is_main_process or result.processes == 1:
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


def read_manifest(shard_dir: Path) -> dict:
    try:
        manifest = json.loads((shard_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DualBrainError(f"knowledge shard {shard_dir.name} is unreadable ({error}); relearn") from None
    if not isinstance(manifest, dict) or not _REQUIRED_MANIFEST_KEYS <= manifest.keys():
        raise DualBrainError(f"knowledge shard {shard_dir.name} is unreadable (incomplete manifest); relearn")
    if manifest.get("format", MANIFEST_FORMAT) > MANIFEST_FORMAT:
        raise DualBrainError(f"knowledge shard {shard_dir.name} was written by a newer dualbrain; upgrade")
    return manifest


def check_shard(reasoning: ReasoningNetwork, shard_dir: Path) -> KnowledgeNetwork:
    """The knowledge network that reads ``shard_dir``, refusing a shard made for another base model."""
    manifest = read_manifest(shard_dir)
    reasoning.require_trained_on(manifest["base_identity"], f"knowledge in {shard_dir.name}",
                                 f"base model '{manifest['base_model']}'")
    # The adapter's own config file says how it is shaped; only the kind of network is needed here.
    if manifest["knowledge_network"] not in KNOWLEDGE_NETWORKS:
        raise DualBrainError(f"knowledge in {shard_dir.name} uses an unknown network '{manifest['knowledge_network']}'")
    return KNOWLEDGE_NETWORKS[manifest["knowledge_network"]]()
