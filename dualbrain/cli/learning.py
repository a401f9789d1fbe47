"""`dualbrain learn`, `forget` and `export`: change what a knowledge base knows, and take its knowledge elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dualbrain.api import DEFAULT_KEEP_VERSIONS, DualBrain
from dualbrain.cli.common import (
    AbstentionShareOption, DistillationOption, DropKnownOption, GroundedEpochsOption, GroundedShareOption, HomeOption,
    KbOption, KeepVersionsOption, LoraPlusOption, ModelOption, NewerFactsWinOption, RelationWordingsOption,
    learn_with_progress, open_brain, out, print_ingest, recipe,
)
from dualbrain.knowledge.network import LoraSettings
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.trainer import TrainSettings, processes


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
    drop_known: DropKnownOption = TrainSettings.drop_known,
    grounded_epochs: GroundedEpochsOption = TrainSettings.grounded_epochs,
    distillation: DistillationOption = TrainSettings.distillation,
    lora_plus: LoraPlusOption = LoraSettings.b_lr_ratio,
    keep_versions: KeepVersionsOption = DEFAULT_KEEP_VERSIONS,
) -> None:
    """Add documents and learn what is new: new shards only; earlier knowledge keeps serving."""
    config = recipe(epochs, seed, lora_plus, distillation, grounded_share, abstention_share, newer_facts_win,
                     relation_wordings, drop_known, grounded_epochs, shard_chars)  # bad options change nothing
    brain = DualBrain.open(kb, home=home, model=model, create=create)
    print_ingest(brain.add(paths, supersedes=supersedes))  # before training, so skipped files are seen at once
    if not processes().is_main_process:  # under torchrun / accelerate launch the main process reports for all
        brain.learn([], config, keep_versions=keep_versions)
        return
    report = learn_with_progress(brain, config, keep_versions)
    metrics = report.metrics
    if not metrics:
        out.print(f"nothing new to learn; {report.version.id if report.version else 'no version'} keeps serving")
        return
    out.print(f"published {report.version.id}: {len(report.version.document_ids)} documents in {len(report.version.shard_ids)} "
              f"shards; trained {metrics['shards_trained']} shards, {metrics['tokens_trained']} tokens in {metrics['learn_seconds']} s")


def forget(
    kb: KbOption,
    document: Annotated[str, typer.Argument(help="Document id (see: dualbrain docs list).")],
    home: HomeOption = None,
    model: ModelOption = None,
    keep_versions: KeepVersionsOption = DEFAULT_KEEP_VERSIONS,
) -> None:
    """Remove a document and everything learned from it: its shard is retrained without it."""
    report = open_brain(kb, home, model).forget(document, keep_versions=keep_versions)
    published = f"published {report.version.id} ({report.shards_rebuilt} shards retrained); " if report.version else ""
    deleted = ", ".join(report.versions_deleted) or "none"
    out.print(f"forgot {document}: {published}deleted versions that had learned it: {deleted}")


def export(
    kb: KbOption,
    out_dir: Annotated[Path, typer.Option("--out", help="New folder for the adapters and export.json.")],
    format: Annotated[str, typer.Option("--format", help="peft: PEFT LoRA adapters (vLLM --lora-modules, plain PEFT); "
                                        "gguf: llama.cpp LoRA files (--lora). Each shard, and all shards combined in one.")] = "peft",
    home: HomeOption = None,
    model: ModelOption = None,
) -> None:
    """Export the serving knowledge version for other serving engines."""
    exported = open_brain(kb, home, model).export(out_dir, format)
    out.print(f"exported {exported['version']} of {kb} as {format} ({len(exported['shards'])} shards, and all of them "
              f"combined in {out_dir / exported['combined_adapter']}) to {out_dir}")
