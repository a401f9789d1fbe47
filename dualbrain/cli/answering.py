"""`dualbrain ask`, `chat` and `demo`: questions to a knowledge base, one, a batch, interactive, or the demo's comparison."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from dualbrain.answering.config import MAX_ANSWER_TOKENS, AnswerConfig
from dualbrain.api import DualBrain
from dualbrain.cli.common import (
    AnswerMode, Engine, EngineOption, HomeOption, JsonOption, KbOption, ModelOption, ModeOption, NoKnowledgeOption,
    NoShortTermOption, Retriever, RetrieverOption, err, learn_with_progress, open_brain, out, print_ingest,
)
from dualbrain.demo import compare, load_questions
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.config import LearnConfig
from dualbrain.reasoning.generate import DEFAULT_MAX_NEW_TOKENS, Generation
from dualbrain.store import atomic_write_text


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
    no_short_term: NoShortTermOption = False,
) -> None:
    """Answer a question (or a JSONL batch). The default `knowledge` mode puts no document text in the prompt."""
    if (question is None) == (questions is None):
        raise DualBrainError("give either a QUESTION or --questions FILE")
    brain = open_brain(kb, home, model)
    config = AnswerConfig(mode="base" if no_knowledge else mode.value, retriever=retriever.value, engine=engine.value,
                          max_new_tokens=max_new_tokens, check=not unchecked, short_term=not no_short_term)
    if questions is None:
        generation = brain.generate(question, config)
        print(json.dumps(_answer_record(generation)) if as_json else generation.text)
        return
    if out_path is None:
        raise DualBrainError("--questions needs --out FILE")
    _answer_batch(brain, questions, out_path, config)


def _answer_batch(brain: DualBrain, questions: Path, out_path: Path, config: AnswerConfig) -> None:
    """Answer every question of the JSONL file ``questions`` as ``config`` says."""
    items = _read_questions(questions)
    lines = []
    for item in items:
        lines.append(json.dumps({"id": item["id"]} | _answer_record(brain.generate(item["question"], config))))
    atomic_write_text(out_path, "\n".join(lines) + "\n")
    err.print(f"wrote {len(lines)} answers to {out_path}")


def _answer_record(generation: Generation) -> dict:
    """An answer as ``--json`` and ``--out`` write it: its text, which memory it came from and the version."""
    return {"answer": generation.text, "memory": generation.memory, "knowledge_version": generation.knowledge_version}


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


def chat(
    kb: KbOption,
    home: HomeOption = None,
    model: ModelOption = None,
    mode: ModeOption = AnswerMode.knowledge,
    no_knowledge: NoKnowledgeOption = False,
    engine: EngineOption = Engine.torch,
    no_short_term: NoShortTermOption = False,
) -> None:
    """Ask questions interactively (empty line or Ctrl-D to quit)."""
    config = AnswerConfig(mode="base" if no_knowledge else mode.value, engine=engine.value, short_term=not no_short_term)
    brain = open_brain(kb, home, model)
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        out.print(f"[bold]{kb}>[/] {escape(brain.ask(question, config))}")


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
    print_ingest(added)
    if added.added or brain.kb.current_version() is None:
        started = time.perf_counter()
        report = learn_with_progress(brain, LearnConfig())
        out.print(f"learned {len(report.version.document_ids)} documents "
                  f"({report.metrics['tokens_trained']} tokens trained) in {time.perf_counter() - started:.0f} s")
    rows = compare(brain, items)
    table = Table("question", "base model", "dualbrain", title="Answers with no document text in the prompt", show_lines=True)
    for row in rows:
        table.add_row(row.question, _marked(row.base_answer, row.base_correct), _marked(row.knowledge_answer, row.knowledge_correct))
    out.print(table)
    out.print(f"correct: base model {sum(r.base_correct for r in rows)}/{len(rows)}, "
              f"dualbrain {sum(r.knowledge_correct for r in rows)}/{len(rows)}")


def _marked(answer: str, correct: bool) -> str:
    return f"{'[green]✓[/]' if correct else '[red]✗[/]'} {escape(answer)}"
