"""`dualbrain bench growth`: time to knowledge as a knowledge base grows, and answering across shards.

One knowledge base grows, with the real recipe, to each base size in ``sizes`` (in fictional
organisations, ~1.1 KB of text each; see ``fictional.py``). At each size one new document — the documents
of ``added`` more organisations in one file, ~2 KB — is added and timed until it answers from the short-term
memory, then learned and timed until it answers from the weights (``changes.time_to_knowledge``); measured
are the shards and characters trained, the accuracy on its questions at both points, and the accuracy on a
fixed sample of the earlier organisations' questions before, while it is in the short-term memory, and after
(what routing mistakes or interference would cost).
The added document stays: it is part of the next, larger base. Flat add times across sizes are the
issue's "cost grows with the shard, not the base".

**Across shards.** Each batch of base organisations is learned without its people directories, which
are learned right after in a learn of their own, so they land in another shard. The two-hop question
"where was X's chief executive born?" then needs the overview (one shard) and the people directory
(another). At the largest size these questions are asked with the best routed shard and with the best
two summed, next to the same question for the added organisations, whose facts share one shard. Then the
knowledge base is consolidated (shards naming the same people retrained as one, as the server's worker
does when idle) and the questions are asked again.

Questions are asked, never trained on; documents are the only training data.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from dualbrain.api import DualBrain
from dualbrain.bench.changes import accuracy, time_to_knowledge, write_documents, write_handbook
from dualbrain.bench.fictional import Question, generate_organisations, organisation_corpus
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.store import Home

_PEOPLE = "people.md"
_BIRTHPLACE = 11  # index of "In which place was the chief executive of X born?" in fictional._questions


@dataclass(frozen=True)
class GrowthConfig:
    sizes: tuple[int, ...] = (4, 8, 16, 32)  # base sizes, in organisations
    added: int = 2  # organisations in the one added document
    sample: int = 40  # earlier questions asked before and after each add
    consolidate: bool = True  # at the end: consolidate, and ask the two-hop questions again
    seed: int = 0
    max_new_tokens: int = 48

    def __post_init__(self) -> None:
        if not self.sizes or list(self.sizes) != sorted(set(self.sizes)) or self.sizes[0] < 1:
            raise ValueError("--sizes takes increasing base sizes of at least 1 organisation, like 4,8,16,32")
        if any(later < earlier + self.added for earlier, later in zip(self.sizes, self.sizes[1:])):
            raise ValueError(f"--sizes must grow by at least the {self.added} organisations added at each size")
        if self.added < 1 or self.sample < 1:
            raise ValueError("the added document and the question sample need at least 1 organisation / question")


def run_growth(
    config: GrowthConfig,
    out_dir: Path,
    model: str | Path | None,
    learn_config: LearnConfig,
    models_dir: Path | None = None,
    on_progress: Callable[[LearnProgress], None] | None = None,
) -> dict:
    """Grow a knowledge base through ``config.sizes``, timing one ~2 KB add at each (module docstring)."""
    organisations = generate_organisations(config.sizes[-1] + config.added, config.seed)
    corpora = [organisation_corpus(o) for o in organisations]
    brain = DualBrain.open("growth", home=Home(out_dir / "home", models_dir), model=model, create=True)
    held: list[int] = []  # organisations (indexes) the knowledge base holds
    rows = []
    for size in config.sizes:
        batch = list(range(len(held), size))
        folder = write_documents(out_dir / f"base-{size}", [corpora[i] for i in batch])
        people = out_dir / f"people-{size}"
        people.mkdir()
        for i in batch:
            (folder / _people_of(organisations[i])).replace(people / _people_of(organisations[i]))
        started = time.perf_counter()
        brain.learn([folder], learn_config, on_progress)
        brain.learn([people], learn_config, on_progress)  # a later learn: a shard of its own
        base_seconds = time.perf_counter() - started
        held += batch

        sample = _sample(corpora, held, config)
        before = accuracy(brain, sample, config.max_new_tokens)
        added = list(range(size, size + config.added))
        # A new file name each time: the same name would supersede the previous handbook.
        handbook = write_handbook(out_dir / f"added-{size}" / f"handbook-{size}.md", [corpora[i] for i in added])
        added_questions = [q for i in added for q in corpora[i].questions if q.answers]
        shards_in_base = len(brain.kb.current_version().shard_ids)
        rows.append({
            "base_organisations": size,
            "base_characters": sum(len(t) for i in held for t in corpora[i].documents.values()),
            "base_learn_seconds": round(base_seconds, 1),
            "shards_in_base": shards_in_base,
            **time_to_knowledge(brain, handbook, added_questions, sample, learn_config, on_progress, config.max_new_tokens),
            "accuracy_earlier_before": before,
            "accuracy_earlier_after": accuracy(brain, sample, config.max_new_tokens),
        })
        held += added  # part of the next base
    return {
        "config": asdict(config),
        "base_model": brain.reasoning.name,
        "learn_config": learn_config.to_dict(),
        "growth": rows,
        "across_shards": _across_shards(brain, corpora, held, config),
        "consolidation": _consolidated(brain, corpora, held, config, learn_config, on_progress) if config.consolidate else None,
    }


def _people_of(organisation: dict) -> str:
    return f"{organisation['slug']}-{_PEOPLE}"


def _sample(corpora: list, held: list[int], config: GrowthConfig) -> list[Question]:
    """A fixed-seed sample of the held organisations' answerable questions."""
    questions = [q for i in held for q in corpora[i].questions if q.answers]
    return random.Random(config.seed).sample(questions, min(config.sample, len(questions)))


def _two_hop(corpora: list, held: list[int], config: GrowthConfig) -> dict[str, list[Question]]:
    """The birthplace two-hop questions, by where their facts were learned: in two shards (base
    organisations: overview and people directory learned apart) or in one (the added organisations)."""
    added = {i for size in config.sizes for i in range(size, size + config.added)}
    return {
        "facts_in_two_shards": [corpora[i].questions[_BIRTHPLACE] for i in held if i not in added],
        "facts_in_one_shard": [corpora[i].questions[_BIRTHPLACE] for i in held if i in added],
    }


def _across_shards(brain: DualBrain, corpora: list, held: list[int], config: GrowthConfig) -> dict:
    """The two-hop questions answered with the best routed shard and with the best two summed."""
    questions = _two_hop(corpora, held, config)
    result = {label: {"questions": len(asked)} for label, asked in questions.items()}
    serving = brain.routing
    try:
        for routed in (1, 2):
            brain.routing = replace(serving, max_shards=routed)
            for label, asked in questions.items():
                result[label][f"accuracy_max_shards_{routed}"] = accuracy(brain, asked, config.max_new_tokens)
    finally:
        brain.routing = serving
    return result


def _consolidated(brain: DualBrain, corpora: list, held: list[int], config: GrowthConfig, learn_config: LearnConfig,
                  on_progress: Callable[[LearnProgress], None] | None) -> dict:
    """Consolidate (what the server's worker does when idle), then ask the two-hop questions again with the
    best routed shard, and the earlier-question sample before and after."""
    sample = _sample(corpora, held, config)
    before = accuracy(brain, sample, config.max_new_tokens)
    shards_before = len(brain.kb.current_version().shard_ids)
    started = time.perf_counter()
    report = brain.consolidate(learn_config, on_progress)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "shards_before": shards_before,
        "shards_after": len(brain.kb.current_version().shard_ids),
        "shards_merged": [len(group) for group in report.merged],
        "characters_trained": report.metrics.get("characters_trained", 0),
        "two_hop_max_shards_1": {label: accuracy(brain, asked, config.max_new_tokens)
                                 for label, asked in _two_hop(corpora, held, config).items()},
        "accuracy_sample_before": before,
        "accuracy_sample_after": accuracy(brain, sample, config.max_new_tokens),
    }


def growth_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    lines = [
        f"# dualbrain bench growth — {report['base_model']}", "",
        "## Time to knowledge as the base grows (one ~2 KB document added at each size)", "",
        "| base orgs | base chars | shards in base | added chars | seconds until answerable (short-term) "
        "| accuracy added, short-term | rag-bm25 | seconds until in weights | shards (characters) trained "
        "| accuracy added, weights | earlier before | earlier, short-term | earlier after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['base_organisations']} | {r['base_characters']} | {r['shards_in_base']} | {r['document_characters']} | "
          f"{r['seconds_until_answerable']} | {r['accuracy_added_short_term']} | {r['accuracy_added_rag_bm25']} | "
          f"{r['seconds_until_in_weights']} | {r['shards_trained']} ({r['characters_trained']}) | {r['accuracy_added']} | "
          f"{r['accuracy_earlier_before']} | {r['accuracy_earlier_short_term']} | {r['accuracy_earlier_after']} |"
          for r in report["growth"]], "",
        "## Two-hop across shards (where was X's chief executive born?)", "",
        "| facts in | questions | 1 shard routed | 2 shards routed |", "|---|---|---|---|",
        *[f"| {label.split('_')[2]} shard(s) | {r['questions']} | {r['accuracy_max_shards_1']} | {r['accuracy_max_shards_2']} |"
          for label, r in report["across_shards"].items()],
    ]
    if report["consolidation"]:
        c = report["consolidation"]
        lines += [
            "", "## After consolidation (shards naming the same things retrained as one; 1 shard routed)", "",
            f"{c['shards_before']} → {c['shards_after']} shards (merged groups of {c['shards_merged']}), "
            f"{c['characters_trained']} characters retrained in {c['seconds']} s. Sample of earlier questions: "
            f"{c['accuracy_sample_before']} before, {c['accuracy_sample_after']} after.", "",
            "| two-hop, facts learned in | accuracy after consolidation |", "|---|---|",
            *[f"| {label.split('_')[2]} shard(s) | {accuracy_} |" for label, accuracy_ in c["two_hop_max_shards_1"].items()],
        ]
    return "\n".join(lines) + "\n"
