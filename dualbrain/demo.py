"""`make demo`: teach the bundled model a fictional organisation and compare it with the plain model.

Learns the sample corpus into a knowledge base (only when something is new, so reruns are quick), then
asks questions worded differently from the documents, once with the plain base model and once with the
knowledge network, and prints both answers side by side with a tally. An answer counts as correct when
it contains one of the accepted answer strings (case-insensitive).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dualbrain.api import DualBrain

KB_NAME = "demo"


def is_correct(answer: str, accepted: list[str]) -> bool:
    return any(option.lower() in answer.lower() for option in accepted)


def run(corpus: Path, questions_path: Path, console: Console) -> tuple[int, int, int]:
    brain = DualBrain.open(KB_NAME, create=True)
    brain.add([corpus])
    if brain.kb.current_version() is None or any(doc.status == "pending" for doc in brain.docs()):
        columns = (TextColumn("learning"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:.0f} tok/s"),
                   TimeRemainingColumn())
        started = time.perf_counter()
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("learn", total=None, loss=float("nan"), tps=0.0)
            report = brain.learn(on_progress=lambda u: bar.update(
                task, completed=u.step, total=u.total_steps, loss=u.loss, tps=u.tokens_per_second))
        console.print(f"learned {len(report.version.document_ids)} documents in "
                      f"{time.perf_counter() - started:.0f} s ({report.metrics['tokens_trained']} tokens)")
    questions = [json.loads(line) for line in questions_path.read_text().splitlines() if line.strip()]
    table = Table("question", "base model", "dualbrain", title="No document text in any prompt", show_lines=True)
    base_right = knowledge_right = 0
    for item in questions:
        base = brain.ask(item["question"], knowledge=False)
        knowing = brain.ask(item["question"])
        base_ok, knowing_ok = is_correct(base, item["answers"]), is_correct(knowing, item["answers"])
        base_right += base_ok
        knowledge_right += knowing_ok
        table.add_row(item["question"], _mark(base, base_ok), _mark(knowing, knowing_ok))
    console.print(table)
    console.print(f"correct: base model {base_right}/{len(questions)}, dualbrain {knowledge_right}/{len(questions)}")
    return base_right, knowledge_right, len(questions)


def _mark(answer: str, correct: bool) -> str:
    return f"{'[green]✓[/]' if correct else '[red]✗[/]'} {answer}"


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), Console())
