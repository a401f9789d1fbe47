"""`dualbrain kb …` and `dualbrain docs …`: create, inspect, roll back, consolidate and delete knowledge bases; add
and list documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from dualbrain.cli.common import (
    HomeOption, JsonOption, KbOption, ModelOption, open_brain, out, phase_bar, print_ingest, print_rows, show_learning,
)
from dualbrain.errors import DualBrainError
from dualbrain.library import Library
from dualbrain.store import Home

kb_app = typer.Typer(help="Create, list, inspect and delete knowledge bases.", no_args_is_help=True)
docs_app = typer.Typer(help="Documents of a knowledge base.", no_args_is_help=True)


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
    info = open_brain(name, home).summary()
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"[bold]{key}[/]: {value}")


@kb_app.command("history")
def kb_history(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Kept versions of a knowledge base, oldest first, with their documents and shards."""
    print_rows(open_brain(name, home).versions(), as_json, {
        "version": lambda row: row["id"] + (" (current)" if row["current"] else ""), "created": lambda row: row["created_at"][:19],
        "documents": lambda row: str(len(row["documents"])), "shards": lambda row: " ".join(row["shards"]),
        "tokens trained": lambda row: str(row["tokens_trained"]),
    })


@kb_app.command("rollback")
def kb_rollback(name: str, version: Annotated[str, typer.Argument(help="A kept version id (see: dualbrain kb history).")],
                home: HomeOption = None) -> None:
    """Serve an earlier kept version again."""
    rolled = open_brain(name, home).rollback(version)
    out.print(f"{name} now serves {rolled.id} ({len(rolled.document_ids)} documents)")


@kb_app.command("consolidate")
def kb_consolidate(name: str, home: HomeOption = None, model: ModelOption = None) -> None:
    """Retrain shards whose documents name the same things as one shard each (cross-document questions
    then find their facts in one shard). `dualbrain serve`'s worker does this when it is idle."""
    brain = open_brain(name, home, model)
    with phase_bar() as show:
        report = brain.consolidate(on_progress=show_learning(show))
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


@docs_app.command("add")
def docs_add(
    kb: KbOption,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .html .pdf .docx).")],
    home: HomeOption = None,
    supersedes: Annotated[Optional[str], typer.Option("--supersedes", help="Id of the document the one new file replaces "
                                                      "(a file with the same name as an earlier one replaces it anyway).")] = None,
) -> None:
    """Add documents without learning them yet: they answer at once from their passages (the short-term memory),
    and from the weights after the next `dualbrain learn --kb KB`."""
    report = open_brain(kb, home).add(paths, supersedes=supersedes)
    print_ingest(report)
    if not report.added:
        raise DualBrainError("no documents were added")
    out.print(f"{len(report.added)} document(s) answer now from the short-term memory; "
              f"learn them into the weights with: dualbrain learn --kb {kb}")


@docs_app.command("list")
def docs_list(kb: KbOption, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List documents of a knowledge base."""
    print_rows(open_brain(kb, home).document_views(), as_json, {
        "id": lambda row: row["id"], "source": lambda row: row["source_name"], "format": lambda row: row["format"],
        "status": lambda row: row["status"], "chars": lambda row: str(row["chars"]), "memory": _memory,
    })


def _memory(document: dict) -> str:
    """Which memory answers for ``document`` (``store/views.py``), with its job's progress while it is learned."""
    progress = document.get("progress")
    if document["memory"] == "learning" and progress:
        return f"learning: {progress['phase']} {progress['step']}/{progress['total_steps']} " \
               f"(shard {progress['shard']}/{progress['shards']})"
    return document["memory"] or "-"
