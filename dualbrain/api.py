"""The Python API: one knowledge base plus the frozen reasoning network, loaded once.

    brain = DualBrain.open("acme")
    brain.learn(["handbook.pdf", "wiki/"])
    brain.ask("Who approves travel expenses?")
    brain.forget("d3f2…")

The CLI and the server call this class; it delegates each step. Learn path: files → ``learning.intake`` (text,
catalog) → ``learning.planning`` (the shards to train) → ``learning.publishing`` (train each shard with
``knowledge.recipe``, publish the version). Ask path: ``answering.modes`` (route, prompt, check) on the shared
``answering.engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path

from torch import nn

from dualbrain.answering import AnswerConfig, Answers, Engine
from dualbrain.answering.routing import RoutingSettings
from dualbrain.errors import DualBrainError, KnowledgeBaseExists, NothingToLearn, UnknownKnowledgeBase
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.export import export_knowledge
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.trainer import EpochHook, processes
from dualbrain.learning.intake import IngestReport, ingest
from dualbrain.learning.planning import Plan, plan_consolidating, plan_forgetting, plan_learning
from dualbrain.learning.publishing import train_and_publish
from dualbrain.learning.reports import ConsolidateReport, ForgetReport, LearnReport
from dualbrain.reasoning.generate import Generation
from dualbrain.reasoning.loader import ReasoningNetwork
from dualbrain.store import DocumentRecord, Home, KnowledgeBase, Quotas, VersionRecord, views

DEFAULT_KEEP_VERSIONS = 5


class DualBrain:
    """A knowledge base and the reasoning network that answers from it."""

    def __init__(self, kb: KnowledgeBase, home: Home, model: str | Path | None = None,
                 routing: RoutingSettings | None = None, engine: Engine | None = None):
        """``engine``: one already made to share (the server's knowledge bases answer on one base model; whoever
        shares it lets one knowledge base at a time attach shards, see :meth:`release`)."""
        self.kb = kb
        self.home = home
        self.engine = engine or Engine(model, home.models_dir)
        self.answers = Answers(kb, self.engine, routing)

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
        return self.engine.reasoning

    @property
    def routing(self) -> RoutingSettings:
        """How questions are routed to shards; assigning other settings re-routes."""
        return self.answers.routing

    @routing.setter
    def routing(self, settings: RoutingSettings) -> None:
        self.answers.routing = settings

    def docs(self) -> list[DocumentRecord]:
        return self.kb.documents()

    def document_views(self) -> list[dict]:
        """Every document as the CLI and the server list it, with the memory that answers for it (``store/views.py``)."""
        return views.document_views(self.kb)

    def add(self, paths: Iterable[str | Path], *, supersedes: str | None = None, quotas: Quotas | None = None) -> IngestReport:
        """Ingest files and folders into the knowledge base (not learned yet); bad files (and, with ``quotas``, files
        over one) are reported, and which earlier document each new one supersedes (``learning/intake.py``). Under
        torchrun / accelerate launch only the main process ingests; the others wait for it and get an empty report."""
        launched = processes()
        if not launched.is_main_process:
            launched.wait_for_everyone()
            return IngestReport()
        try:
            return ingest(self.kb, paths, supersedes, quotas)
        finally:
            launched.wait_for_everyone()

    def learn(self, paths: Iterable[str | Path] = (), config: LearnConfig | None = None,
              on_progress: Callable[[LearnProgress], None] | None = None, on_epoch_end: EpochHook | None = None, *,
              supersedes: str | None = None, keep_versions: int = DEFAULT_KEEP_VERSIONS, request: int | None = None,
              yield_now: Callable[[], bool] | None = None) -> LearnReport:
        """Ingest ``paths`` and learn every document the current version does not hold yet.

        Only new shards are trained: earlier shards keep serving untouched. A document that supersedes
        another (see :meth:`add`) is trained into the old one's shard, which is retrained without it.
        If training fails or is interrupted, nothing is published: the previous version keeps serving
        and the new documents stay 'pending' for the next run.
        ``on_epoch_end(epoch, model)`` sees the knowledge being learned after every epoch. ``request``: the
        queued request this learn runs for (see :meth:`progress`). Where ``yield_now()`` is true between two
        shards, the learn stops there with :class:`~dualbrain.learning.publishing.Yielded`, and its next run takes
        up the shards trained so far (the server's worker lets other knowledge bases' requests go first this way).
        """
        report = self.add(paths, supersedes=supersedes)
        # Under torchrun / accelerate launch every process runs this; the main process alone changes the
        # catalog (ingest, lock, job records, publish) and the others train beside it on the same plan.
        with self.kb.job_lock() if processes().is_main_process else nullcontext():
            if not self.kb.documents():
                raise NothingToLearn(f"knowledge base '{self.kb.name}' has no documents to learn")
            current = self._current_for_change()
            plan = plan_learning(self.kb, current, config or LearnConfig())
            if plan is None:
                return LearnReport(report, current, {})
            version, metrics = self._train_and_publish("learn", plan, on_progress, on_epoch_end, keep_versions, request,
                                                       yield_now)
        return LearnReport(report, version, metrics)

    def forget(self, doc_id: str, *, keep_versions: int = DEFAULT_KEEP_VERSIONS, request: int | None = None) -> ForgetReport:
        """Remove a document and what was learned from it (exact unlearning by shards).

        The shards that learned it are retrained from their other documents, with their own
        configuration, and published; then the document's text, cached training material, and every
        version and shard that saw it are deleted. Each retrained shard has exactly the weights its
        remaining documents alone train (docs/incremental.md). A crash leaves the previous version
        serving and the document marked 'forgetting'; running forget again finishes the job.
        """
        with self.kb.job_lock():
            self.withdraw(doc_id)  # from here on nothing learns or answers from it, even if this run dies before the purge
            plan = plan_forgetting(self.kb, self._current_for_change(), doc_id)
            version = self._train_and_publish("forget", plan, None, None, keep_versions, request)[0] if plan else None
            deleted = self.kb.purge_document(doc_id)
        return ForgetReport(doc_id, version, len(plan.builds) if plan else 0, deleted)

    def withdraw(self, doc_id: str) -> None:
        """Neither memory answers for ``doc_id`` from now on, nor does anything learn it (a learn publishing meanwhile
        included), ahead of the :meth:`forget` that removes what was learned from it (the server's worker runs it)."""
        self.kb.catalog.get_document(doc_id)  # unknown ids fail clearly
        self.kb.catalog.set_status([doc_id], "forgetting")

    def consolidate(self, config: LearnConfig | None = None, on_progress: Callable[[LearnProgress], None] | None = None,
                    *, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> ConsolidateReport:
        """Retrain shards whose documents name the same things as one shard each (up to the shard size),
        so that questions chaining facts from documents learned at different times find them in one
        shard. Learning stays fast (a new document trains alone and answers at once); this runs after,
        in the background worker or from ``dualbrain kb consolidate``. Forgetting stays exact: a merged
        shard is trained on its documents only, like any other."""
        with self.kb.job_lock():
            current = self._current_for_change()
            plan = plan_consolidating(self.kb, current, config or LearnConfig())
            if plan is None:
                return ConsolidateReport([], current, {})
            version, metrics = self._train_and_publish("consolidate", plan, on_progress, None, keep_versions)
        return ConsolidateReport(plan.merged, version, metrics)

    def _current_for_change(self) -> VersionRecord | None:
        """The current version, if a change may build on it: its shards must fit the loaded base model."""
        current = self.kb.current_version()
        if current is not None:
            self.reasoning.require_trained_on(current.base_identity, f"knowledge base '{self.kb.name}'")
        return current

    def _train_and_publish(self, kind: str, plan: Plan, on_progress: Callable[[LearnProgress], None] | None,
                           on_epoch_end: EpochHook | None, keep_versions: int, request: int | None = None,
                           yield_now: Callable[[], bool] | None = None) -> tuple[VersionRecord | None, dict]:
        self.release()  # training attaches its own fresh knowledge network to the base
        return train_and_publish(self.kb, self.reasoning, kind, plan, on_progress, on_epoch_end, keep_versions, request,
                                 yield_now)

    def progress(self, request: int) -> dict | None:
        """The live training progress of the queued ``request`` while its job runs, else None."""
        job = self.kb.catalog.latest_job(request)
        return job.progress if job is not None and job.status in ("queued", "running") else None

    def summary(self) -> dict:
        """Its documents, the version serving and that version's metrics (``store/views.py``)."""
        return views.summary(self.kb)

    def versions(self) -> list[dict]:
        """Every kept version, oldest first, marked where it is the one serving."""
        return views.version_views(self.kb)

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
            shard_dirs = {shard_id: self.kb.shard_dir(shard_id) for shard_id in version.shard_ids}
            description = {"knowledge_base": self.kb.name, "version": version.id, "base_identity": version.base_identity}
            # Only GGUF tensor names depend on the base model's shape; a PEFT export needs no model loaded.
            base_config = self.reasoning.model.config if format == "gguf" else None
            return export_knowledge(shard_dirs, Path(out_dir), description, format, base_config)

    def ask(self, question: str, config: AnswerConfig | None = None, /, **settings) -> str:
        """Answer ``question`` as ``config`` says: by default from the knowledge network alone, nothing in the prompt
        (the modes: :data:`dualbrain.answering.ANSWER_MODES`); ``settings`` such as ``mode="rag"`` change single
        fields of it. An answer of the knowledge modes that the documents do not support is declined, unless
        ``check=False`` (``knowledge/support.py``)."""
        return self.generate(question, config, **settings).text

    def generate(self, question: str, config: AnswerConfig | None = None, /, *, documents: list[str] | None = None,
                 on_text: Callable[[str], None] | None = None, **settings) -> Generation:
        """Like :meth:`ask`, with prompt size and timings; ``documents`` replaces the ranked documents of
        the ``context`` mode (the benchmark's oracle passes exactly the documents holding the answer);
        ``on_text`` receives the answer piece by piece as it is generated (a checked answer once its
        leading claim is checked). A declined answer's generated text is in ``withheld``."""
        return self.answers.generate(question, _settings(config, settings), documents, on_text)

    def complete(self, text: str, config: AnswerConfig | None = None, /, *,
                 on_text: Callable[[str], None] | None = None, **settings) -> Generation:
        """Continue ``text`` as raw model input (no chat template) with the knowledge routed for it."""
        return self.answers.complete(text, _settings(config, settings), on_text)

    def answering_model(self, knowledge: bool, question: str | None = None) -> AbstractContextManager[nn.Module]:
        """The PyTorch model that answers, with the knowledge or without (see :meth:`Answers.model`): other
        measurements, such as the benchmark's retention check, see the same models as answering does."""
        return self.answers.model(knowledge, question)

    def route(self, question: str) -> list[str]:
        """The shards of the current version that answer ``question`` (see ``answering/routing.py``)."""
        return self.answers.route(question, self.answers.serving_version())

    def release(self) -> None:
        """Take this knowledge base's shards off the base model (before another DualBrain sharing the
        engine answers, and before training, which attaches its own knowledge network)."""
        self.engine.release()


def _settings(config: AnswerConfig | None, settings: dict) -> AnswerConfig:
    """``config`` (the defaults if None) with the fields ``settings`` names changed, checked once."""
    return replace(config or AnswerConfig(), **settings)
