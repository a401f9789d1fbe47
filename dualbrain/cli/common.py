"""What the commands share: the consoles, the options, the learning recipe they set, and learning progress bars."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dualbrain.answering.config import ANSWER_MODES, ENGINES, RETRIEVERS
from dualbrain.api import DEFAULT_KEEP_VERSIONS, DualBrain
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import LoraSettings
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.learning.intake import IngestReport
from dualbrain.learning.reports import LearnReport

out = Console()
err = Console(stderr=True)

HomeOption = Annotated[Optional[Path], typer.Option("--home", help="Data directory (default: $DUALBRAIN_HOME or the user data dir).")]
KbOption = Annotated[str, typer.Option("--kb", help="Knowledge base name.")]
ModelOption = Annotated[
    Optional[Path], typer.Option("--model", help="Local Hugging Face model directory (default: bundled SmolLM2-135M-Instruct).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# typer validates choices through an Enum; the choices themselves are defined once, where they are used.
AnswerMode = Enum("AnswerMode", {mode: mode for mode in ANSWER_MODES}, type=str)
ModeOption = Annotated[
    AnswerMode,
    typer.Option("--mode",
                 help="knowledge: weights only, nothing in the prompt; base: plain model; rag: BM25 passages in the "
                      "prompt; context: whole documents in the prompt; knowledge+rag: the weights first, passages "
                      "where the documents do not support their answer."),
]
NoKnowledgeOption = Annotated[bool, typer.Option("--no-knowledge", help="Same as --mode base.")]
NoShortTermOption = Annotated[bool, typer.Option("--no-short-term", help="Answer from the weights alone: documents not "
                                                 "learned yet are not answered from their passages (the short-term memory).")]
Retriever = Enum("Retriever", {kind: kind for kind in RETRIEVERS}, type=str)
RetrieverOption = Annotated[Retriever, typer.Option("--retriever", help="Passages for rag modes: bm25 or embed (all-MiniLM-L6-v2).")]
Engine = Enum("Engine", {engine: engine for engine in ENGINES}, type=str)
EngineOption = Annotated[Engine, typer.Option("--engine", help="What computes answers: torch, or llama.cpp on the model's "
                                              "GGUF with the knowledge as a GGUF LoRA (faster on CPU; docs/scaling.md).")]


def print_rows(rows: list[dict], as_json: bool, columns: dict[str, Callable[[dict], str]]) -> None:
    """``rows`` as JSON, or as a table of ``columns`` (heading → what a row shows under it)."""
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(show(row) for show in columns.values()))
    out.print(table)


def open_brain(kb: str, home: Path | None, model: Path | None = None) -> DualBrain:
    return DualBrain.open(kb, home=home, model=model)


KeepVersionsOption = Annotated[int, typer.Option("--keep-versions", min=1, help="Versions kept for rollback; older ones are deleted.")]
GroundedShareOption = Annotated[float, typer.Option("--grounded-share", min=0.0, max=1.0, help="Share of the self-study "
                                                    "questions also trained with retrieved passages in the prompt, for the "
                                                    "knowledge+rag mode; 0 learns 10-15% faster if that mode is never used.")]
AbstentionShareOption = Annotated[float, typer.Option("--abstention-share", min=0.0, max=1.0, help="Share of the "
                                                      "self-study questions also asked of a near-miss name or of a known "
                                                      "thing that lacks what they ask, and trained to be declined.")]
DistillationOption = Annotated[float, typer.Option("--distillation", min=0.0, max=1.0, help="Weight of the frozen model's "
                                                   "answer distribution, read with the fact's passages in its prompt, in "
                                                   "each question's loss (0: the gold answer only).")]
LoraPlusOption = Annotated[float, typer.Option("--lora-plus", min=1.0, help="LoRA+: how many times faster the "
                                              "adapter's B matrices learn than its A matrices (1: plain LoRA).")]
NewerFactsWinOption = Annotated[bool, typer.Option("--newer-facts-win/--all-facts-as-written", help="Learn each older "
                                                   "document with the values a later document restates differently.")]
RelationWordingsOption = Annotated[bool, typer.Option("--relation-wordings/--no-relation-wordings", help="Also ask each "
                                                      "relation a fact states in a wording people use for it (\"who runs X?\" "
                                                      "for a chief executive), from a relation lexicon, instead of "
                                                      "blanking it in the fact's own words.")]

DropKnownOption = Annotated[bool, typer.Option("--drop-known/--every-example-every-epoch", help="From the third epoch on, "
                                               "train only the examples the network does not recite word for word yet: "
                                               "~15% faster, measured to answer a few questions fewer.")]

GroundedEpochsOption = Annotated[int, typer.Option("--grounded-epochs", min=0, help="Train the questions with passages "
                                                   "in the prompt (see --grounded-share) in the last this many epochs "
                                                   "only; 0: in every epoch.")]


def recipe(epochs: int, seed: int, lora_plus: float, distillation: float, grounded_share: float, abstention_share: float,
            newer_facts_win: bool, relation_wordings: bool, drop_known: bool, grounded_epochs: int,
            shard_chars: int = LearnConfig.shard_chars) -> LearnConfig:
    """The learning recipe from the options ``learn`` and ``bench`` share."""
    try:
        train = TrainSettings(epochs=epochs, seed=seed, distillation=distillation, drop_known=drop_known,
                              grounded_epochs=grounded_epochs)
    except ValueError as error:  # the settings' own check, as one clean line
        raise DualBrainError(f"invalid training options: {error}") from None
    return LearnConfig(LoraSettings(b_lr_ratio=lora_plus), train,
                       shard_chars=shard_chars, grounded_share=grounded_share, abstention_share=abstention_share,
                       newer_facts_win=newer_facts_win, relation_wordings=relation_wordings)


def print_ingest(report: IngestReport) -> None:
    for document in report.added:
        replaced = report.replaced.get(document.id)
        err.print(f"added {document.source_name} as {document.id}" + (f", superseding {replaced}" if replaced else ""))
    for problem in report.problems:
        err.print(f"[yellow]skipped[/] {problem}")


@contextmanager
def phase_bar() -> Iterator[Callable[..., None]]:
    """A live bar (steps, loss, tokens/s, ETA) that restarts, ETA included, whenever the phase changes."""
    columns = (TextColumn("{task.description:<20}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:.0f} tok/s"), TimeRemainingColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("preparing", total=None, loss=float("nan"), tps=0.0)

        def show(phase: str, step: int, total: int, loss: float = float("nan"), tps: float = 0.0) -> None:
            if bar.tasks[0].description != phase:
                bar.reset(task, description=phase)
            bar.update(task, completed=step, total=total, loss=loss, tps=tps)

        yield show


PHASES = {"questions": "writing questions", "teacher": "reading with passages", "training": "training"}


def show_learning(show: Callable[..., None], who: str = "") -> Callable[[LearnProgress], None]:
    """``show`` for each snapshot of learning; ``who`` names a learner other than this process (the server's worker)."""
    return lambda u: show(who + PHASES[u.phase], u.step, u.total_steps, u.loss, u.tokens_per_second)


def learn_with_progress(brain: DualBrain, config: LearnConfig, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> LearnReport:
    with phase_bar() as show:
        return brain.learn([], config, on_progress=show_learning(show), keep_versions=keep_versions)
