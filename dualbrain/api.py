"""The Python API: one knowledge base plus the frozen reasoning network, loaded once.

    brain = DualBrain.open("acme")
    brain.learn(["handbook.pdf", "wiki/"])
    brain.ask("Who approves travel expenses?")
    brain.forget("d3f2…")

The CLI is a thin layer over this class. Data path: files → ingest (text) → catalog + stored text →
training signals → knowledge shards → published version → answers with the routed shards attached.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from accelerate.utils import gather_object
from torch import nn

from dualbrain.errors import (
    DualBrainError, IncompatibleKnowledge, IngestError, KnowledgeBaseExists, NothingToLearn, UnknownKnowledgeBase,
)
from dualbrain.ingest import collect_files, extract
from dualbrain.knowledge.composition import AttachedShards
from dualbrain.knowledge.export import export_knowledge, write_gguf_lora
from dualbrain.knowledge.network import ADAPTER_SUBDIR
from dualbrain.knowledge.recipe import LearnConfig, SourceDocument, learn_documents, read_manifest
from dualbrain.knowledge.router import RoutingSettings, ShardRouter
from dualbrain.knowledge.sharding import assign_shards, plan_consolidation, plan_shards
from dualbrain.knowledge.signals import document_names
from dualbrain.knowledge.support import CheckedAnswer, SupportIndex
from dualbrain.knowledge.trainer import EpochHook, LearnProgress, LossHistory, processes
from dualbrain.knowledge.updates import as_of_now
from dualbrain.reasoning.generate import DEFAULT_MAX_NEW_TOKENS, Generation, TokenTrace, continue_text
from dualbrain.reasoning.llama_cpp import LlamaCpp, llama_cpp_for
from dualbrain.reasoning.loader import ReasoningNetwork, load_reasoning_network
from dualbrain.reasoning.prompting import grounded_question, question_prompt
from dualbrain.retrieval import BM25Retriever, Chunk, Retriever, chunk_documents
from dualbrain.retrieval.context import documents_by_relevance, fit_to_budget
from dualbrain.retrieval.embed import EmbeddingRetriever
from dualbrain.store import DocumentRecord, Home, KnowledgeBase, VersionRecord
from dualbrain.store.knowledge_base import StagedShard


@dataclass
class IngestReport:
    """What happened to each input file."""

    added: list[DocumentRecord] = field(default_factory=list)
    problems: list[IngestError] = field(default_factory=list)
    replaced: dict[str, str] = field(default_factory=dict)  # new document id → the id it superseded


@dataclass
class LearnReport:
    ingest: IngestReport
    version: VersionRecord | None  # None when nothing was ever learned and nothing new came
    metrics: dict  # empty when there was nothing new to learn


@dataclass
class ConsolidateReport:
    merged: list[list[str]]  # the shard ids retrained together, one list per new shard
    version: VersionRecord | None  # the version published (the current one when nothing was merged)
    metrics: dict


@dataclass(frozen=True)
class _Answer:
    generation: Generation
    handed_back: bool  # declined, the decline kept from the reader: the caller answers another way


@dataclass
class ForgetReport:
    document_id: str
    version: VersionRecord | None  # the version published without the document (None if it held none)
    shards_rebuilt: int
    versions_deleted: list[str]


ANSWER_MODES = ("knowledge", "base", "rag", "context", "knowledge+rag")
# What computes answers: PyTorch (the reasoning network as loaded), or llama.cpp on a GGUF of the same model.
ENGINES = ("torch", "llama.cpp")
RETRIEVERS: dict[str, Callable[[list], Retriever]] = {"bm25": BM25Retriever, "embed": EmbeddingRetriever}
DEFAULT_TOP_K = 3
# What a second opinion on an unsure answer generates: enough for its leading claim (knowledge/support.py).
SECOND_OPINION_TOKENS = 32
DEFAULT_KEEP_VERSIONS = 5


class DualBrain:
    """A knowledge base and the reasoning network that answers from it."""

    def __init__(
        self,
        kb: KnowledgeBase,
        home: Home,
        model: str | Path | None = None,
        routing: RoutingSettings | None = None,
        reasoning: ReasoningNetwork | None = None,
    ):
        """``reasoning``: an already loaded base model to share (the server's knowledge bases use one copy;
        whoever shares it must let one DualBrain at a time attach shards, see :meth:`release`)."""
        self.kb = kb
        self.home = home
        self.routing = routing or RoutingSettings()
        self._model_source = model
        self._reasoning: ReasoningNetwork | None = reasoning
        self._llama_cpp: LlamaCpp | None = None  # made when the llama.cpp engine first answers
        self._shards: AttachedShards | None = None
        # (version id, routing settings) → router over that version's shards; assigning ``routing`` re-routes.
        self._router: tuple[tuple[str, RoutingSettings], ShardRouter] | None = None
        self._passage_vectors: dict[str, torch.Tensor] = {}  # routers of later versions reuse these
        # Passages, the indexes over them and the support check's index, each with the key of what it was cut for.
        self._passages_cut: dict[bool, tuple[tuple, list[Chunk]]] = {}  # as learned → (key, passages)
        self._retrievers: dict[tuple[str, bool], tuple[tuple, Retriever]] = {}  # (kind, as learned) → (key, index)
        self._support: tuple[tuple, SupportIndex] | None = None

    @classmethod
    def open(
        cls, name: str, *, home: Home | Path | None = None, model: str | Path | None = None, create: bool = False
    ) -> "DualBrain":
        """Open knowledge base ``name`` (``create=True`` makes it when missing)."""
        home = home if isinstance(home, Home) else Home(home)
        try:
            kb = home.open_kb(name)
        except UnknownKnowledgeBase:
            if not create:
                raise
            try:
                kb = home.create_kb(name)
            except KnowledgeBaseExists:  # made meanwhile, e.g. by another process launched with this one
                kb = home.open_kb(name)
        return cls(kb, home, model)

    @property
    def reasoning(self) -> ReasoningNetwork:
        """The frozen base model, loaded on first use."""
        if self._reasoning is None:
            self._reasoning = load_reasoning_network(self._model_source, self.home.models_dir)
        return self._reasoning

    def docs(self) -> list[DocumentRecord]:
        return self.kb.documents()

    def add(self, paths: Iterable[str | Path], *, supersedes: str | None = None) -> IngestReport:
        """Ingest files and folders into the knowledge base (not learned yet); bad files are reported.

        A new document with the same file name as an earlier one is its new edition and supersedes it;
        ``supersedes=DOC_ID`` names the replaced document explicitly (one new file only). The next
        learn retrains the old document's shard with the new edition in its place.
        Under torchrun / accelerate launch only the main process ingests; the others wait for it and
        get an empty report.
        """
        launched = processes()
        if not launched.is_main_process:
            launched.wait_for_everyone()
            return IngestReport()
        try:
            return self._ingest(paths, supersedes)
        finally:
            launched.wait_for_everyone()

    def _ingest(self, paths: Iterable[str | Path], supersedes: str | None) -> IngestReport:
        if supersedes is not None:
            self.kb.catalog.get_document(supersedes)  # unknown ids fail before anything is ingested
        files, problems = collect_files(Path(p) for p in paths)
        report = IngestReport(problems=list(problems))
        if supersedes is not None and len(files) != 1:
            raise DualBrainError(f"--supersedes takes exactly one new file, got {len(files)}")
        # A file name replaces an earlier document only when that is unambiguous: exactly one earlier
        # document and exactly one new file carry it (base names of files from different folders can clash).
        current = [doc for doc in self.kb.documents() if doc.status in ("pending", "learned")]
        earlier = Counter(doc.source_name for doc in current)
        earlier_ids = {doc.source_name: doc.id for doc in current}
        incoming = Counter(path.name for path in files)
        for path in files:
            try:
                document = extract(path)
                report.added.append(
                    self.kb.add_document(
                        document.source_name, document.format, document.text, document.sha256, document.size_bytes
                    )
                )
            except IngestError as error:
                report.problems.append(error)
                continue
            name = document.source_name
            unambiguous = earlier[name] == 1 and incoming[path.name] == 1
            replaced = supersedes or (earlier_ids[name] if unambiguous else None)
            if replaced is not None:
                self.kb.catalog.record_supersession(replaced, report.added[-1].id)
                report.replaced[report.added[-1].id] = replaced
        return report

    def learn(
        self,
        paths: Iterable[str | Path] = (),
        config: LearnConfig | None = None,
        on_progress: Callable[[LearnProgress], None] | None = None,
        on_epoch_end: EpochHook | None = None,
        *,
        supersedes: str | None = None,
        keep_versions: int = DEFAULT_KEEP_VERSIONS,
    ) -> LearnReport:
        """Ingest ``paths`` and learn every document the current version does not hold yet.

        Only new shards are trained: earlier shards keep serving untouched. A document that supersedes
        another (see :meth:`add`) is trained into the old one's shard, which is retrained without it.
        If training fails or is interrupted, nothing is published: the previous version keeps serving
        and the new documents stay 'pending' for the next run.
        ``on_epoch_end(epoch, model)`` sees the knowledge being learned after every epoch.
        """
        report = self.add(paths, supersedes=supersedes)
        # Under torchrun / accelerate launch every process runs this; the main process alone changes the
        # catalog (ingest, lock, job records, publish) and the others train beside it on the same plan.
        with self.kb.job_lock() if processes().is_main_process else nullcontext():
            records = self.kb.documents()
            if not records:
                raise NothingToLearn(f"knowledge base '{self.kb.name}' has no documents to learn")
            current = self._current_for_change()
            held = set(current.document_ids) if current else set()
            leaving = {doc.id for doc in records if doc.status in ("superseded", "forgetting")}
            new = [doc.id for doc in records if doc.id not in held and doc.id not in leaving]
            if not new and not held & leaving:
                return LearnReport(report, current, {})
            config = config or LearnConfig()
            plan = plan_shards(
                self._current_shards(current),
                {doc.id: doc.chars for doc in records},
                add=new,
                remove=held & leaving,
                replaces={new_id: old_id for old_id, new_id in self.kb.catalog.supersessions().items()},
                max_chars=config.shard_chars,
            )
            version, metrics = self._train_and_publish(
                "learn", [(ids, config) for ids in plan.build], plan.keep, on_progress, on_epoch_end, keep_versions
            )
        return LearnReport(report, version, metrics)

    def forget(self, doc_id: str, *, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> ForgetReport:
        """Remove a document and what was learned from it (exact unlearning by shards).

        The shards that learned it are retrained from their other documents, with their own
        configuration, and published; then the document's text, cached training material, and every
        version and shard that saw it are deleted. Each retrained shard has exactly the weights its
        remaining documents alone train (docs/incremental.md). A crash leaves the previous version
        serving and the document marked 'forgetting'; running forget again finishes the job.
        """
        with self.kb.job_lock():
            self.kb.catalog.get_document(doc_id)  # unknown ids fail clearly
            # From here on nothing learns or retrieves it, even if this run dies before the purge.
            self.kb.catalog.set_status([doc_id], "forgetting")
            current = self._current_for_change()
            version, rebuilt = None, 0
            if current is not None and doc_id in current.document_ids:
                builds, kept = [], []
                for shard_id, doc_ids in self._current_shards(current).items():
                    if doc_id not in doc_ids:
                        kept.append(shard_id)
                    elif remaining := [other for other in doc_ids if other != doc_id]:
                        # Rebuilt exactly as the original was trained: with its own recorded configuration.
                        config = LearnConfig.from_dict(read_manifest(self.kb.shard_dir(shard_id))["config"])
                        builds.append((remaining, config))
                version, _ = self._train_and_publish("forget", builds, kept, None, None, keep_versions)
                rebuilt = len(builds)
            deleted = self.kb.purge_document(doc_id)
        return ForgetReport(doc_id, version, rebuilt, deleted)

    def consolidate(
        self,
        config: LearnConfig | None = None,
        on_progress: Callable[[LearnProgress], None] | None = None,
        *,
        keep_versions: int = DEFAULT_KEEP_VERSIONS,
    ) -> ConsolidateReport:
        """Retrain shards whose documents name the same things as one shard each (up to the shard size),
        so that questions chaining facts from documents learned at different times find them in one
        shard. Learning stays fast (a new document trains alone and answers at once); this runs after,
        in the background worker or from ``dualbrain kb consolidate``. Forgetting stays exact: a merged
        shard is trained on its documents only, like any other."""
        config = config or LearnConfig()
        with self.kb.job_lock():
            current = self._current_for_change()
            if current is None:
                return ConsolidateReport([], None, {})
            shards = self._current_shards(current)
            documents = {doc.id: doc for doc in self.kb.documents()}
            names = {doc_id: document_names(self.kb.document_text(doc_id)) for doc_id in current.document_ids}
            groups = plan_consolidation(shards, {d: documents[d].chars for d in names}, names, config.shard_chars)
            if not groups:
                return ConsolidateReport([], current, {})
            merged = {shard_id for group in groups for shard_id in group}
            builds = [([doc_id for shard_id in group for doc_id in shards[shard_id]], config) for group in groups]
            kept = [shard_id for shard_id in shards if shard_id not in merged]
            version, metrics = self._train_and_publish("consolidate", builds, kept, on_progress, None, keep_versions)
        return ConsolidateReport(groups, version, metrics)

    def _current_for_change(self) -> VersionRecord | None:
        """The current version, if a change may build on it: its shards must fit the loaded base model."""
        current = self.kb.current_version()
        if current is not None and current.base_identity != self.reasoning.identity:
            raise IncompatibleKnowledge(
                f"knowledge base '{self.kb.name}' was learned with another base model (identity "
                f"{current.base_identity[:12]}); pass that --model, or learn into a new knowledge base"
            )
        return current

    def history(self) -> list[VersionRecord]:
        """Every kept version, oldest first."""
        return self.kb.catalog.versions()

    def rollback(self, version_id: str) -> VersionRecord:
        """Serve the kept version ``version_id`` again (the next learn builds on it). Refused while a job
        runs: its publish, planned on the version serving now, would silently undo the rollback."""
        with self.kb.job_lock(wait=False):
            return self.kb.rollback(version_id)

    def export(self, out_dir: Path, format: str = "peft") -> dict:
        """Write the serving version's shards as ``format`` (peft, gguf) adapters into ``out_dir``
        (``knowledge/export.py``). Refused while a job runs: its publish may prune the shards being copied."""
        with self.kb.job_lock(wait=False):
            version = self.kb.current_version()
            if version is None:
                raise DualBrainError(f"knowledge base '{self.kb.name}' has not learned anything yet; nothing to export")
            shard_dirs = self._shard_dirs(list(version.shard_ids))
            base_model = read_manifest(next(iter(shard_dirs.values())))["base_model"]
            description = {"knowledge_base": self.kb.name, "version": version.id, "base_model": base_model,
                           "base_identity": version.base_identity}
            # Only GGUF tensor names depend on the base model's shape; a PEFT export needs no model loaded.
            base_config = self.reasoning.model.config if format == "gguf" else None
            return export_knowledge(shard_dirs, Path(out_dir), description, format, base_config)

    def _current_shards(self, version: VersionRecord | None) -> dict[str, list[str]]:
        if version is None:
            return {}
        return {shard_id: list(self.kb.catalog.get_shard(shard_id).document_ids) for shard_id in version.shard_ids}

    def _train_and_publish(
        self,
        kind: str,
        builds: list[tuple[list[str], LearnConfig]],
        kept_shard_ids: list[str],
        on_progress: Callable[[LearnProgress], None] | None,
        on_epoch_end: EpochHook | None,
        keep_versions: int,
    ) -> tuple[VersionRecord | None, dict]:
        """Train one shard per (document ids, configuration), publish them with the kept shards as the
        next version, then prune old versions. Nothing is published unless every shard trained.

        Under torchrun / accelerate launch, with at least as many shards to train as processes, each process
        trains whole shards alone (shards are independent: no gradient traffic, and a shard's weights are
        those a single process trains); with fewer, all processes train each shard together (DDP).
        """
        launched = processes()  # one process, or one of several under torchrun / accelerate launch
        owners = None
        if 1 < launched.num_processes <= len(builds):
            sizes = [sum(self.kb.catalog.get_document(doc_id).chars for doc_id in ids) for ids, _ in builds]
            owners = assign_shards(sizes, launched.num_processes)
        job = None
        if launched.is_main_process:
            job = self.kb.catalog.create_job(
                kind, {"shards": [{"documents": ids, **config.to_dict()} for ids, config in builds], "kept": kept_shard_ids}
            )
        self.release()  # training attaches its own fresh knowledge network to the base
        started = time.perf_counter()
        try:
            with ExitStack() as stack:
                staged: list[tuple[int, StagedShard]] = []
                for index, (doc_ids, config) in enumerate(builds):
                    if owners is not None and owners[index] != launched.process_index:
                        continue  # another process trains this shard
                    losses = LossHistory()

                    def progress(update: LearnProgress, shard: int = index + 1, losses: LossHistory = losses) -> None:
                        if update.phase == "training":
                            losses.add(update.step, update.loss)
                        record = asdict(update) | {"eta_seconds": update.eta_seconds, "shard": shard, "shards": len(builds),
                                                   "loss_history": losses.points}
                        if job is not None:
                            self.kb.catalog.update_job(job, status="running", progress=record)
                        if on_progress:
                            on_progress(update)

                    directory = stack.enter_context(self.kb.staging_dir())
                    documents = [self._source(doc_id) for doc_id in doc_ids]
                    metrics = learn_documents(self.reasoning, documents, config, directory, progress, on_epoch_end,
                                              self.kb.derived_dir, data_parallel=owners is None)
                    staged.append((index, StagedShard(directory, tuple(doc_ids), metrics)))
                if owners is not None:  # every process learns where the others staged their shards
                    staged = sorted(gather_object(staged), key=lambda indexed: indexed[0])
                shards = [shard for _, shard in staged]
                metrics = _version_metrics([shard.metrics for shard in shards], time.perf_counter() - started)
                if launched.is_main_process:  # the main process alone publishes
                    self.kb.publish(shards, kept_shard_ids=kept_shard_ids, base_identity=self.reasoning.identity, metrics=metrics)
                    self.kb.prune(keep_versions)
                # Inside the stack: the other processes' staged shards stay until the main one has published them.
                launched.wait_for_everyone()
        except BaseException as error:
            if job is not None:
                self.kb.catalog.update_job(job, status="failed", error=str(error) or type(error).__name__)
            raise
        if job is not None:
            self.kb.catalog.update_job(job, status="done")
        return self.kb.current_version(), metrics

    def _source(self, doc_id: str) -> SourceDocument:
        doc = self.kb.catalog.get_document(doc_id)
        return SourceDocument(doc.id, doc.sha256, doc.source_name, self.kb.document_text(doc.id))

    def ask(
        self,
        question: str,
        *,
        mode: str = "knowledge",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        top_k: int = DEFAULT_TOP_K,
        retriever: str = "bm25",
        engine: str = "torch",
        check: bool = True,
    ) -> str:
        """Answer ``question`` in one of :data:`ANSWER_MODES`, computed by one of :data:`ENGINES`.

        ``knowledge`` (the default) puts the question alone in the prompt; ``base`` is the plain model;
        ``rag`` adds the ``top_k`` passages found by ``retriever`` (``bm25`` or ``embed``), ``knowledge+rag`` too
        where the documents do not support what the weights alone answered;
        ``context`` adds whole documents, most relevant first, up to the model's window. With ``check``, an
        answer of the knowledge modes that the documents do not support is declined (``knowledge/support.py``).
        """
        return self.generate(question, mode=mode, max_new_tokens=max_new_tokens, top_k=top_k, retriever=retriever,
                             engine=engine, check=check).text

    def generate(
        self,
        question: str,
        *,
        mode: str = "knowledge",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        top_k: int = DEFAULT_TOP_K,
        retriever: str = "bm25",
        documents: list[str] | None = None,
        on_text: Callable[[str], None] | None = None,
        engine: str = "torch",
        check: bool = True,
    ) -> Generation:
        """Like :meth:`ask`, with prompt size and timings; ``documents`` replaces the ranked documents of
        the ``context`` mode (the benchmark's oracle passes exactly the documents holding the answer);
        ``on_text`` receives the answer piece by piece as it is generated (a checked answer once its
        leading claim is checked). A declined answer's generated text is in ``withheld``."""
        if mode not in ANSWER_MODES:
            raise DualBrainError(f"unknown answer mode '{mode}' (choose from {', '.join(ANSWER_MODES)})")
        if not question.strip():
            raise DualBrainError("the question is empty")
        if retriever not in RETRIEVERS:
            raise DualBrainError(f"unknown retriever '{retriever}' (choose from {', '.join(RETRIEVERS)})")
        if documents is not None and mode != "context":
            raise DualBrainError("documents can only be given in the context mode")
        check_engine(engine)
        version, shard_ids = self._knowledge(question) if mode.startswith("knowledge") else (None, [])
        if mode == "knowledge+rag" and check and shard_ids:
            # Knowledge first (adaptive retrieval, arXiv 2212.10511): with passages in its prompt the network often
            # recites a neighbouring fact of a passage, where from its weights alone it answered right. So the
            # weights answer, and the passages are read only where the documents do not support that answer (not
            # where the network was unsure: read, it then states a passage's fact the question did not ask for).
            first = self._answer(question, question, "knowledge", version, shard_ids, max_new_tokens, on_text, engine,
                                 check, hold_declines=True)
            if not first.handed_back:
                return first.generation
            second = self._answer(question, self._grounded(question, retriever, top_k, version), mode, version,
                                  shard_ids, max_new_tokens, on_text, engine, check).generation
            return replace(second, prompt_tokens=first.generation.prompt_tokens + second.prompt_tokens,
                           completion_tokens=first.generation.completion_tokens + second.completion_tokens,
                           first_token_seconds=first.generation.total_seconds + second.first_token_seconds,
                           total_seconds=first.generation.total_seconds + second.total_seconds)
        if mode in ("rag", "knowledge+rag"):
            asked = self._grounded(question, retriever, top_k, version)
        elif mode == "context":
            texts = documents if documents is not None else self._documents_by_relevance(question)
            asked = grounded_question(question, self._fit_window(question, texts, max_new_tokens))
        else:
            asked = question
        return self._answer(question, asked, mode, version, shard_ids, max_new_tokens, on_text, engine, check).generation

    def _grounded(self, question: str, retriever: str, top_k: int, version: VersionRecord | None) -> str:
        """``question`` with the ``top_k`` passages ``retriever`` finds for it; with a knowledge ``version``, the
        documents as it learned them, so passages and weights agree."""
        passages = self._retriever(retriever, learned_by=version).retrieve(question, top_k)
        return grounded_question(question, [passage.text for passage in passages])

    def _answer(self, question: str, asked: str, mode: str, version: VersionRecord | None, shard_ids: list[str],
                max_new_tokens: int, on_text: Callable[[str], None] | None, engine: str, check: bool,
                hold_declines: bool = False) -> _Answer:
        """The answer to ``asked`` (``question`` with what ``mode`` puts in the prompt), checked where a shard answers;
        with ``hold_declines``, a decline the caller can answer otherwise is not passed to ``on_text``."""
        prompt = question_prompt(self.reasoning.tokenizer, asked)
        # Only answers the knowledge network gives are checked: it recites what it learned in the documents' words,
        # while an answer that reads passages rewords them too freely for word overlap (docs/recipe.md), and a
        # question the router sends to no shard is not about the documents: the plain model answers it as it is.
        # How sure the network was of its fact is checked in the knowledge mode alone, where the threshold was
        # measured; with passages in the prompt a model is sure of what it reads.
        checked, trace = None, None
        if check and shard_ids:
            trace = TokenTrace(self.reasoning.tokenizer) if mode == "knowledge" else None
            checked = CheckedAnswer(self._support_index(version), question, on_text, trace, hold_declines=hold_declines)
        generation = self._continue(prompt, shard_ids, max_new_tokens, checked or on_text, engine, trace)
        generation = replace(generation, knowledge_version=version.id if version else None)
        if checked:  # an answer the network was unsure of is compared with what it says when it starts otherwise
            started = time.perf_counter()
            delivered = checked.finish(generation.text, lambda start: self._raw_continuation(prompt + start, shard_ids, engine))
            # The reader waits for the second opinion too.
            generation = replace(generation, total_seconds=generation.total_seconds + time.perf_counter() - started)
        else:
            delivered = generation.text
        if delivered != generation.text:
            generation = replace(generation, text=delivered, withheld=generation.text)
        return _Answer(generation, checked is not None and checked.handed_back)

    def complete(self, text: str, *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 on_text: Callable[[str], None] | None = None, engine: str = "torch") -> Generation:
        """Continue ``text`` as raw model input (no chat template) with the knowledge routed for it."""
        if not text.strip():
            raise DualBrainError("the prompt is empty")
        check_engine(engine)
        version, shard_ids = self._knowledge(text)
        generation = self._continue(text, shard_ids, max_new_tokens, on_text, engine)
        return replace(generation, knowledge_version=version.id)

    def _continue(self, text: str, shard_ids: list[str], max_new_tokens: int,
                  on_text: Callable[[str], None] | None, engine: str, trace: TokenTrace | None = None) -> Generation:
        """The greedy continuation of ``text`` with ``shard_ids`` active, computed by ``engine`` (its tokens'
        probabilities recorded in ``trace``)."""
        if engine == "llama.cpp":
            adapters = [directory / ADAPTER_SUBDIR for directory in self._shard_dirs(shard_ids).values()]
            write_lora = lambda path: write_gguf_lora(adapters, path, self.reasoning.model.config)  # noqa: E731
            # Published shards never change and their ids are never reused: the ids name the knowledge.
            return self._llama_cpp_engine().continue_text(text, max_new_tokens, on_text, frozenset(shard_ids), write_lora,
                                                          trace)
        with self._attached_shards().answering(self._shard_dirs(shard_ids)) as model:
            return continue_text(model, self.reasoning.tokenizer, text, max_new_tokens, on_text, trace)

    def _raw_continuation(self, text: str, shard_ids: list[str], engine: str) -> str:
        """The greedy continuation of ``text`` as generated (not stripped), as long as a leading claim needs."""
        trace = TokenTrace(self.reasoning.tokenizer)
        self._continue(text, shard_ids, SECOND_OPINION_TOKENS, None, engine, trace)
        return trace.text(trace.ids)

    def _llama_cpp_engine(self) -> LlamaCpp:
        if self._llama_cpp is None:
            self._llama_cpp = llama_cpp_for(self.reasoning)
        return self._llama_cpp

    @contextmanager
    def answering_model(self, knowledge: bool, question: str | None = None) -> Iterator[nn.Module]:
        """The model to answer with: base + knowledge, or the plain base model.

        With ``question``, the knowledge is the shards the router picks for it (possibly none: then the
        plain model answers); without, every shard of the current version. Inside the block the model
        computes exactly what :meth:`generate` answers with, so other measurements (the benchmark's
        retention check) see the same models as answering does.
        """
        if not knowledge:
            shard_ids = []
        elif question is not None:
            shard_ids = self._knowledge(question)[1]
        else:
            shard_ids = list(self._serving_version().shard_ids)
        with self._attached_shards().answering(self._shard_dirs(shard_ids)) as model:
            yield model

    def _knowledge(self, question: str) -> tuple[VersionRecord, list[str]]:
        """The serving version and its shards routed for ``question``: one read of ``CURRENT``, so an
        answer uses one version's shards even while a new version is published."""
        version = self._serving_version()
        return version, self._route(question, version)

    def _shard_dirs(self, shard_ids: list[str]) -> dict[str, Path]:
        return {shard_id: self.kb.shard_dir(shard_id) for shard_id in shard_ids}

    def route(self, question: str) -> list[str]:
        """The shards of the current version that answer ``question`` (see ``knowledge/router.py``)."""
        return self._route(question, self._serving_version())

    def _route(self, question: str, version: VersionRecord) -> list[str]:
        if self._router is None or self._router[0] != (version.id, self.routing):
            shard_documents = {
                shard_id: [(doc_id, self.kb.document_text(doc_id)) for doc_id in self.kb.catalog.get_shard(shard_id).document_ids]
                for shard_id in version.shard_ids
            }
            router = ShardRouter(shard_documents, self.routing, passage_vectors=self._passage_vectors)
            self._router = ((version.id, self.routing), router)
        return self._router[1].route(question)

    def _serving_version(self) -> VersionRecord:
        """The current version, with the shards of any earlier one taken off the model."""
        version = self.kb.current_version()
        if version is None:
            raise DualBrainError(
                f"knowledge base '{self.kb.name}' has not learned anything yet "
                f"(run: dualbrain learn --kb {self.kb.name} FILES)"
            )
        if version.base_identity != self.reasoning.identity:  # checked even when no shard is routed
            raise IncompatibleKnowledge(
                f"knowledge base '{self.kb.name}' was trained on another base model (identity "
                f"{version.base_identity[:12]}), not on the loaded '{self.reasoning.name}' "
                f"(identity {self.reasoning.identity[:12]}); pass the matching --model"
            )
        self._attached_shards().keep_only(set(version.shard_ids))
        if self._llama_cpp is not None:
            self._llama_cpp.keep_only(set(version.shard_ids))
        return version

    def _attached_shards(self) -> AttachedShards:
        if self._shards is None:
            self._shards = AttachedShards(self.reasoning)
        return self._shards

    def release(self) -> None:
        """Take this knowledge base's shards off the base model (before another DualBrain sharing the
        model answers, and before training, which attaches its own knowledge network)."""
        if self._shards is not None:
            self._shards.detach()
        if self._llama_cpp is not None:
            self._llama_cpp.release()

    def _passages(self, learned_by: VersionRecord | None = None) -> tuple[tuple, list[Chunk]]:
        """The knowledge base's passages, and the key they were cut for (its documents and ``learned_by``).

        With ``learned_by``, each document that version learned is cut as its shard learned it: where the
        shard learned with newer facts winning, with the values later documents of the shard changed (see
        ``knowledge/updates.py``). Without it, every document as written."""
        # A superseded document's facts are out of date, a forgotten one's are going: passages skip both.
        records = [doc for doc in self.kb.documents() if doc.status not in ("superseded", "forgetting")]
        key = (tuple(doc.id for doc in records), learned_by.id if learned_by else None)
        as_learned = learned_by is not None
        if as_learned not in self._passages_cut or self._passages_cut[as_learned][0] != key:
            texts = {doc.id: self.kb.document_text(doc.id) for doc in records}
            if learned_by is not None:
                texts.update(self._as_learned(learned_by, texts))
            self._passages_cut[as_learned] = (key, chunk_documents(list(texts.items())))
        return self._passages_cut[as_learned]

    def _retriever(self, kind: str = "bm25", learned_by: VersionRecord | None = None) -> Retriever:
        """An index of ``kind`` over :meth:`_passages`, rebuilt when they change."""
        key, passages = self._passages(learned_by)
        if not passages:
            raise DualBrainError(f"knowledge base '{self.kb.name}' has no documents to retrieve from")
        index = (kind, learned_by is not None)
        if index not in self._retrievers or self._retrievers[index][0] != key:
            self._retrievers[index] = (key, RETRIEVERS[kind](passages))
        return self._retrievers[index][1]

    def _support_index(self, version: VersionRecord) -> SupportIndex:
        """What answers of ``version``'s knowledge are checked against: the passages as it learned them (none
        while every document it learned is being forgotten: then nothing is supported)."""
        key, passages = self._passages(learned_by=version)
        if self._support is None or self._support[0] != key:
            self._support = (key, SupportIndex([passage.text for passage in passages]))
        return self._support[1]

    def _as_learned(self, version: VersionRecord, texts: dict[str, str]) -> dict[str, str]:
        """The texts of ``version``'s documents whose shard learned them as of now (newer facts winning)."""
        learned = {}
        for shard_id in version.shard_ids:
            config = LearnConfig.from_dict(read_manifest(self.kb.shard_dir(shard_id))["config"])
            if config.newer_facts_win:  # the shard's documents are in the order they were learned, oldest first
                shard = [(doc_id, texts[doc_id]) for doc_id in self.kb.catalog.get_shard(shard_id).document_ids if doc_id in texts]
                learned.update(as_of_now(shard))
        return learned

    def _documents_by_relevance(self, question: str) -> list[str]:
        return [self.kb.document_text(doc_id) for doc_id in documents_by_relevance(self._retriever(), question)]

    def _fit_window(self, question: str, texts: list[str], max_new_tokens: int) -> list[str]:
        tokenizer = self.reasoning.tokenizer
        framing = len(tokenizer(question_prompt(tokenizer, grounded_question(question, [])))["input_ids"])
        return fit_to_budget(texts, tokenizer, self.reasoning.context_window - framing - max_new_tokens)


def check_engine(engine: str) -> None:
    """Refuse an engine not in :data:`ENGINES`."""
    if engine not in ENGINES:
        raise DualBrainError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")


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
