"""The Python API: one knowledge base plus the frozen reasoning network, loaded once.

    brain = DualBrain.open("acme")
    brain.learn(["handbook.pdf", "wiki/"])
    brain.ask("Who approves travel expenses?")

The CLI is a thin layer over this class. Data path: files → ingest (text) → catalog + stored text →
training signals → knowledge network → published version → answers with that version attached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelerate import PartialState
from torch import nn

from dualbrain.errors import DualBrainError, IngestError, NothingToLearn, UnknownKnowledgeBase
from dualbrain.ingest import collect_files, extract
from dualbrain.knowledge.network import KnowledgeNetwork
from dualbrain.knowledge.recipe import LearnConfig, SourceDocument, attach_knowledge, learn_documents
from dualbrain.knowledge.trainer import EpochHook, LearnProgress
from dualbrain.reasoning.generate import DEFAULT_MAX_NEW_TOKENS, Generation, answer
from dualbrain.reasoning.loader import ReasoningNetwork, load_reasoning_network
from dualbrain.reasoning.prompting import grounded_question, question_prompt
from dualbrain.retrieval import BM25Retriever, Retriever, chunk_documents
from dualbrain.retrieval.context import documents_by_relevance, fit_to_budget
from dualbrain.retrieval.embed import EmbeddingRetriever
from dualbrain.store import DocumentRecord, Home, KnowledgeBase, VersionRecord


@dataclass
class IngestReport:
    """What happened to each input file."""

    added: list[DocumentRecord] = field(default_factory=list)
    problems: list[IngestError] = field(default_factory=list)


@dataclass
class LearnReport:
    ingest: IngestReport
    version: VersionRecord
    metrics: dict


ANSWER_MODES = ("knowledge", "base", "rag", "context", "knowledge+rag")
RETRIEVERS: dict[str, Callable[[list], Retriever]] = {"bm25": BM25Retriever, "embed": EmbeddingRetriever}
DEFAULT_TOP_K = 3


class DualBrain:
    """A knowledge base and the reasoning network that answers from it."""

    def __init__(self, kb: KnowledgeBase, home: Home, model: str | Path | None = None):
        self.kb = kb
        self.home = home
        self._model_source = model
        self._reasoning: ReasoningNetwork | None = None
        self._attached: tuple[str, KnowledgeNetwork, nn.Module] | None = None  # version id, network, model
        self._retrievers: dict[str, tuple[tuple[str, ...], Retriever]] = {}  # kind → (document ids, index)

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
            kb = home.create_kb(name)
        return cls(kb, home, model)

    @property
    def reasoning(self) -> ReasoningNetwork:
        """The frozen base model, loaded on first use."""
        if self._reasoning is None:
            self._reasoning = load_reasoning_network(self._model_source, self.home.models_dir)
        return self._reasoning

    def docs(self) -> list[DocumentRecord]:
        return self.kb.documents()

    def add(self, paths: Iterable[str | Path]) -> IngestReport:
        """Ingest files and folders into the knowledge base (not learned yet); bad files are reported."""
        files, problems = collect_files(Path(p) for p in paths)
        report = IngestReport(problems=list(problems))
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
        return report

    def learn(
        self,
        paths: Iterable[str | Path] = (),
        config: LearnConfig | None = None,
        on_progress: Callable[[LearnProgress], None] | None = None,
        on_epoch_end: EpochHook | None = None,
    ) -> LearnReport:
        """Ingest ``paths``, train the knowledge network on every document, publish a new version.

        If training fails or is interrupted, nothing is published: the previous version keeps serving
        and the new documents stay 'pending' for the next run. ``on_epoch_end(epoch, model)`` sees the
        knowledge being learned after every epoch (the benchmark draws its learning curve with it).
        """
        report = self.add(paths)
        records = self.kb.documents()
        if not records:
            raise NothingToLearn(f"knowledge base '{self.kb.name}' has no documents to learn")
        config = config or LearnConfig()
        documents = [
            SourceDocument(doc.id, doc.sha256, doc.source_name, self.kb.document_text(doc.id)) for doc in records
        ]
        job = self.kb.catalog.create_job("learn", {"documents": [d.id for d in documents], **config.to_dict()})
        self._detach()  # training attaches its own fresh knowledge network to the base

        def progress(update: LearnProgress) -> None:
            self.kb.catalog.update_job(job, status="running", progress=asdict(update) | {"eta_seconds": update.eta_seconds})
            if on_progress:
                on_progress(update)

        processes = PartialState()  # one process, or one of several under torchrun / accelerate launch
        try:
            with self.kb.staging_dir() as staged:
                metrics = learn_documents(self.reasoning, documents, config, staged, progress, on_epoch_end)
                if processes.is_main_process:  # only the main process wrote the knowledge network
                    self.kb.publish(
                        staged, base_identity=self.reasoning.identity, document_ids=[d.id for d in documents], metrics=metrics
                    )
            processes.wait_for_everyone()
            version = self.kb.current_version()
        except BaseException as error:
            self.kb.catalog.update_job(job, status="failed", error=str(error) or type(error).__name__)
            raise
        self.kb.catalog.update_job(job, status="done")
        return LearnReport(report, version, metrics)

    def ask(
        self,
        question: str,
        *,
        mode: str = "knowledge",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        top_k: int = DEFAULT_TOP_K,
        retriever: str = "bm25",
    ) -> str:
        """Answer ``question`` in one of :data:`ANSWER_MODES`.

        ``knowledge`` (the default) puts the question alone in the prompt; ``base`` is the plain model;
        ``rag`` / ``knowledge+rag`` add the ``top_k`` passages found by ``retriever`` (``bm25`` or ``embed``);
        ``context`` adds whole documents, most relevant first, up to the model's window.
        """
        return self.generate(question, mode=mode, max_new_tokens=max_new_tokens, top_k=top_k, retriever=retriever).text

    def generate(
        self,
        question: str,
        *,
        mode: str = "knowledge",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        top_k: int = DEFAULT_TOP_K,
        retriever: str = "bm25",
        documents: list[str] | None = None,
    ) -> Generation:
        """Like :meth:`ask`, with prompt size and timings; ``documents`` replaces the ranked documents of
        the ``context`` mode (the benchmark's oracle passes exactly the documents holding the answer)."""
        if mode not in ANSWER_MODES:
            raise DualBrainError(f"unknown answer mode '{mode}' (choose from {', '.join(ANSWER_MODES)})")
        if not question.strip():
            raise DualBrainError("the question is empty")
        if retriever not in RETRIEVERS:
            raise DualBrainError(f"unknown retriever '{retriever}' (choose from {', '.join(RETRIEVERS)})")
        if documents is not None and mode != "context":
            raise DualBrainError("documents can only be given in the context mode")
        if mode in ("rag", "knowledge+rag"):
            question = grounded_question(question, [c.text for c in self._retriever(retriever).retrieve(question, top_k)])
        elif mode == "context":
            texts = documents if documents is not None else self._documents_by_relevance(question)
            question = grounded_question(question, self._fit_window(question, texts, max_new_tokens))
        with self.answering_model(knowledge=mode.startswith("knowledge")) as model:
            return answer(model, self.reasoning.tokenizer, question, max_new_tokens)

    @contextmanager
    def answering_model(self, knowledge: bool) -> Iterator[nn.Module]:
        """The model to answer with: base + current knowledge, or the plain base model.

        Inside the block the model computes exactly what :meth:`generate` answers with, so other measurements
        (the benchmark's retention check) see the same two models as answering does.
        """
        if knowledge:
            yield self._knowing_model()
        elif self._attached is None:
            yield self.reasoning.model
        else:  # switch the attached knowledge off rather than unloading and reloading it per question
            _, network, model = self._attached
            with network.switched_off(model):
                yield model

    def _retriever(self, kind: str = "bm25") -> Retriever:
        """An index of ``kind`` over the knowledge base's passages, rebuilt when its documents change."""
        records = self.kb.documents()
        key = tuple(doc.id for doc in records)
        if not key:
            raise DualBrainError(f"knowledge base '{self.kb.name}' has no documents to retrieve from")
        if kind not in self._retrievers or self._retrievers[kind][0] != key:
            texts = [(doc.id, self.kb.document_text(doc.id)) for doc in records]
            self._retrievers[kind] = (key, RETRIEVERS[kind](chunk_documents(texts)))
        return self._retrievers[kind][1]

    def _documents_by_relevance(self, question: str) -> list[str]:
        return [self.kb.document_text(doc_id) for doc_id in documents_by_relevance(self._retriever(), question)]

    def _fit_window(self, question: str, texts: list[str], max_new_tokens: int) -> list[str]:
        tokenizer = self.reasoning.tokenizer
        framing = len(tokenizer(question_prompt(tokenizer, grounded_question(question, [])))["input_ids"])
        return fit_to_budget(texts, tokenizer, self.reasoning.context_window - framing - max_new_tokens)

    def _knowing_model(self) -> nn.Module:
        version = self.kb.current_version()
        if version is None:
            raise DualBrainError(
                f"knowledge base '{self.kb.name}' has not learned anything yet "
                f"(run: dualbrain learn --kb {self.kb.name} FILES)"
            )
        if self._attached is None or self._attached[0] != version.id:
            self._detach()
            network, model = attach_knowledge(self.reasoning, self.kb.version_dir(version.id))
            self._attached = (version.id, network, model)
        return self._attached[2]

    def _detach(self) -> None:
        if self._attached is not None:
            _, network, model = self._attached
            network.detach(model)
            self._attached = None
