"""`dualbrain bench changes`: what adding, updating and forgetting documents cost and do, on the real path.

On a knowledge base that learned ``base`` fictional organisations (documents as in ``fictional.py``):

1. **Time to knowledge** — one more organisation's documents, as one file, are added, then learned; the wall
   time until it answers from the short-term memory (its passages) and until it answers from the weights, its
   accuracy at each point (against the plain model with BM25 passages, and, with ``reference``, a knowledge base
   that learned everything at once), and the accuracy on the earlier organisations before, while the new file
   is in the short-term memory, and after.
2. **Updates** — new editions (same file names) of every organisation's overview change its chief executive
   and head count; the share of those questions answered with the new value and with the old one.
3. **Forgetting** — one organisation's FAQ (its secret project and who leads it) is forgotten. Canary: the
   mean log-probability of the FAQ's answers to questions about it, before and after, and under the plain
   base model (which never saw it). Membership: the loss-ratio test (loss with knowledge / loss of the base
   model on the document's text; lower means "seen"), for the forgotten document before and after, against
   documents of an organisation that was never learned. Both are measured as users get them (routed) and
   with every shard attached, so that the router cannot hide what the weights still hold — and the same in
   a *never-saw* reference: a fresh knowledge base that learned exactly the remaining documents, shard by
   shard in the same order (the issue's "no higher than for a knowledge base that never saw it"). Accuracy
   on the other organisations' questions the update did not change, before and after.

How the time to knowledge changes as the base grows, and answering across shards: ``growth.py``.

Questions are asked, never trained on; documents are the only training data.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dualbrain.api import DualBrain
from dualbrain.bench.fictional import Question, generate_organisations, organisation_corpus, revised
from dualbrain.bench.scoring import is_correct
from dualbrain.knowledge.config import LearnConfig
from dualbrain.knowledge.progress import LearnProgress
from dualbrain.reasoning.prompting import question_prompt
from dualbrain.store import Home
from dualbrain.store.pieces import document_of

_FORGOTTEN = "faq.md"
_UPDATED = {"0", "3", "8", "11"}  # questions on the chief executive or head count (see fictional._questions)


@dataclass(frozen=True)
class ChangesConfig:
    base: int = 4  # organisations learned before the changes
    seed: int = 0
    max_new_tokens: int = 48
    reference: bool = False  # also learn everything at once in a fresh knowledge base (a full retrain)

    def __post_init__(self) -> None:
        if self.base < 1:
            raise ValueError("--docs must be at least 1 organisation")


def run_changes(
    config: ChangesConfig,
    out_dir: Path,
    model: str | Path | None,
    learn_config: LearnConfig,
    models_dir: Path | None = None,
    on_progress: Callable[[LearnProgress], None] | None = None,
) -> dict:
    """Run the four measurements and return the report dict (see the module docstring)."""
    organisations = generate_organisations(config.base + 2, config.seed)
    earlier, added, never = organisations[: config.base], organisations[config.base], organisations[config.base + 1]
    home = Home(out_dir / "home", models_dir)
    brain = DualBrain.open("changes", home=home, model=model, create=True)
    corpora = {o["slug"]: organisation_corpus(o) for o in organisations}

    started = time.perf_counter()
    brain.learn([write_documents(out_dir / "base", [corpora[o["slug"]] for o in earlier])], learn_config, on_progress)
    base_seconds = time.perf_counter() - started
    earlier_questions = [q for o in earlier for q in corpora[o["slug"]].questions if q.answers]
    earlier_before = accuracy(brain, earlier_questions, config.max_new_tokens)

    # 1. Time to knowledge: one organisation as one file, until its first answer.
    handbook = write_handbook(out_dir / "added" / f"{added['slug']}-handbook.md", [corpora[added["slug"]]])
    added_questions = [q for q in corpora[added["slug"]].questions if q.answers]
    add = {
        "base_characters": sum(len(t) for o in earlier for t in corpora[o["slug"]].documents.values()),
        **time_to_knowledge(brain, handbook, added_questions, earlier_questions, learn_config, on_progress,
                            config.max_new_tokens),
        "accuracy_earlier_before": earlier_before,
        "accuracy_earlier_after": accuracy(brain, earlier_questions, config.max_new_tokens),
        "base_learn_seconds": round(base_seconds, 1),
    }
    if config.reference:
        add["accuracy_added_full_retrain"] = _full_retrain_accuracy(out_dir, home, model, learn_config, handbook, added_questions, config)

    # 2. Updates: new editions of the overviews, same file names.
    updates = _update(brain, out_dir / "editions", earlier, config, learn_config, on_progress)

    # 3. Forgetting one FAQ.
    forgetting = _forget(brain, corpora, earlier, never, earlier_questions, config)
    forgetting["never_saw"] = _never_saw(brain, out_dir, home, model, learn_config, corpora, earlier, never)
    return {
        "config": asdict(config),
        "base_model": brain.reasoning.name,
        "learn_config": learn_config.to_dict(),
        "time_to_knowledge": add,
        "updates": updates,
        "forgetting": forgetting,
    }


def write_documents(folder: Path, corpora: list) -> Path:
    """Every document of ``corpora`` as a file in ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for corpus in corpora:
        for name, text in corpus.documents.items():
            (folder / name).write_text(text)
    return folder


def write_handbook(path: Path, corpora: list) -> Path:
    """Every document of ``corpora`` merged into one file at ``path`` (one document about several things)."""
    path.parent.mkdir(parents=True)
    path.write_text("\n\n".join(text for corpus in corpora for text in corpus.documents.values()))
    return path


def time_to_knowledge(brain: DualBrain, handbook: Path, questions: list[Question], earlier: list[Question],
                      learn_config: LearnConfig, on_progress: Callable[[LearnProgress], None] | None,
                      max_new_tokens: int) -> dict:
    """Add ``handbook`` and time it until its first answer from the short-term memory, then learn it and time it
    until its first answer from the weights. The accuracy on its ``questions`` at each point (beside the retrieval
    baseline's, the plain model with BM25 passages), how many of them the short-term memory answered, and the
    accuracy on the ``earlier`` questions while it is in the short-term memory (it must not take theirs)."""
    started = time.perf_counter()
    brain.add([handbook])
    brain.generate(questions[0].question, max_new_tokens=1)
    answerable = time.perf_counter() - started
    short_term = [brain.generate(q.question, max_new_tokens=max_new_tokens) for q in questions]
    figures = {
        "document_characters": len(handbook.read_text()),
        "seconds_until_answerable": round(answerable, 1),
        "accuracy_added_short_term": _right(questions, [g.text for g in short_term]),
        "share_from_short_term": round(sum(g.memory in ("short-term", "both") for g in short_term) / len(short_term), 3),
        "accuracy_added_rag_bm25": accuracy(brain, questions, max_new_tokens, mode="rag"),
        "accuracy_earlier_short_term": accuracy(brain, earlier, max_new_tokens),
    }
    started = time.perf_counter()
    learned = brain.learn([], learn_config, on_progress)
    brain.generate(questions[0].question, max_new_tokens=1)
    return figures | {
        "seconds_until_in_weights": round(answerable + time.perf_counter() - started, 1),
        "shards_trained": learned.metrics["shards_trained"],
        "characters_trained": learned.metrics["characters_trained"],
        "tokens_trained": learned.metrics["tokens_trained"],
        "accuracy_added": accuracy(brain, questions, max_new_tokens),
    }


def accuracy(brain: DualBrain, questions: list[Question], max_new_tokens: int, **settings) -> float:
    """The share of ``questions`` answered right (fictional.py's accepted answers), asked as ``settings`` say."""
    return _right(questions, [brain.ask(q.question, max_new_tokens=max_new_tokens, **settings) for q in questions])


def _right(questions: list[Question], answers: list[str]) -> float:
    return round(sum(is_correct(answer, q.answers, q.kind) for q, answer in zip(questions, answers)) / len(questions), 3)


def _full_retrain_accuracy(out_dir, home, model, learn_config, handbook, questions, config) -> float:
    reference = DualBrain.open("full-retrain", home=home, model=model, create=True)
    reference.learn([out_dir / "base", handbook], learn_config)
    return accuracy(reference, questions, config.max_new_tokens)


def _update(brain: DualBrain, folder: Path, earlier: list[dict], config: ChangesConfig, learn_config, on_progress) -> dict:
    new_value, old_value = 0, 0
    editions = [revised(o, config.seed) for o in earlier]
    folder.mkdir(parents=True)
    for edition in editions:
        name = f"{edition['slug']}-overview.md"
        (folder / name).write_text(organisation_corpus(edition).documents[name])
    started = time.perf_counter()
    learned = brain.learn([folder], learn_config, on_progress)
    seconds = time.perf_counter() - started
    asked = 0
    for old, new in zip(earlier, editions):
        # The chief executive and head count questions, with the new and the old accepted answers.
        for index in (0, 3):
            question = organisation_corpus(new).questions[index]
            answer = brain.ask(question.question, max_new_tokens=config.max_new_tokens)
            new_value += is_correct(answer, question.answers, question.kind)
            old_value += is_correct(answer, organisation_corpus(old).questions[index].answers, question.kind)
            asked += 1
    return {"changed_facts": asked, "share_new_value": round(new_value / asked, 3), "share_old_value": round(old_value / asked, 3),
            "learn_seconds": round(seconds, 1), "shards_trained": learned.metrics["shards_trained"],
            "characters_trained": learned.metrics["characters_trained"], "superseded": len(learned.ingest.replaced)}


def _canaries(victim: dict) -> list[tuple[str, str]]:
    """The forgotten FAQ's two facts, asked in words the document does not use."""
    return [(f"Who heads Project {victim['project']}?", victim["project_lead"]),
            (f"Which firm is behind Project {victim['project']}?", victim["org"])]


def _snapshot(brain: DualBrain, canaries: list[tuple[str, str]], forgotten_text: str, never_texts: list[str]) -> dict:
    """Canary belief and loss ratios, as users get them (routed) and with every shard attached."""
    figures = {}
    for label, routed in (("", True), ("_all_shards", False)):
        figures["canary_logprob" + label] = _mean(belief(brain, q, a, True, routed) for q, a in canaries)
        figures["loss_ratio_forgotten" + label] = round(_loss_ratio(brain, forgotten_text, routed), 4)
        figures["loss_ratio_never_seen" + label] = _mean(_loss_ratio(brain, text, routed) for text in never_texts)
    return figures


def _forget(brain, corpora, earlier, never, earlier_questions, config) -> dict:
    victim = earlier[0]
    name = f"{victim['slug']}-{_FORGOTTEN}"
    doc_id = next(d.id for d in brain.docs() if d.source_name == name)
    canaries = _canaries(victim)
    # Other organisations' questions whose answers the update left alone (not the chief executive's or head count).
    others = [q for q in earlier_questions if not q.id.startswith(victim["slug"]) and q.id.split("-q")[1] not in _UPDATED]
    forgotten_text = corpora[victim["slug"]].documents[name]
    never_texts = list(corpora[never["slug"]].documents.values())

    def snapshot() -> dict:
        return _snapshot(brain, canaries, forgotten_text, never_texts)

    before = snapshot() | {"accuracy_others": accuracy(brain, others, config.max_new_tokens)}
    started = time.perf_counter()
    report = brain.forget(doc_id)
    seconds = time.perf_counter() - started
    retrained = report.version.metrics["characters_trained"] if report.version else 0
    after = snapshot() | {"accuracy_others": accuracy(brain, others, config.max_new_tokens)}
    return {
        "document": name,
        "canaries": canaries,
        "canary_logprob_base_model": _mean(belief(brain, q, a, False) for q, a in canaries),
        "before": before,
        "after": after,
        "forget_seconds": round(seconds, 1),
        "shards_retrained": report.shards_rebuilt,
        "characters_retrained": retrained,
        "versions_deleted": report.versions_deleted,
    }


def _never_saw(brain: DualBrain, out_dir: Path, home: Home, model, learn_config: LearnConfig, corpora, earlier, never) -> dict:
    """The forgetting figures in a fresh knowledge base that learned the remaining documents, shard by shard
    in the same order, from the same files — one that never saw the forgotten document."""
    files = {_sha256(path): path for folder in ("base", "editions", "added") for path in (out_dir / folder).iterdir()}
    reference = DualBrain.open("never-saw", home=home, model=model, create=True)
    for pieces in brain.kb.shard_documents(brain.kb.current_version()).values():
        documents = [brain.kb.catalog.get_document(doc_id) for doc_id in dict.fromkeys(map(document_of, pieces))]
        reference.learn([files[doc.sha256] for doc in documents], learn_config)
    victim = earlier[0]
    texts = corpora[victim["slug"]].documents[f"{victim['slug']}-{_FORGOTTEN}"], list(corpora[never["slug"]].documents.values())
    same = (list(reference.kb.shard_documents(reference.kb.current_version()).values())
            == list(brain.kb.shard_documents(brain.kb.current_version()).values()))
    return _snapshot(reference, _canaries(victim), *texts) | {"same_shards": same}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def belief(brain: DualBrain, question: str, answer: str, knowledge: bool = True, routed: bool = True) -> float:
    """Mean log-probability per token of ``answer`` as the reply to ``question`` (with knowledge: the
    routed shards, or every shard)."""
    tokenizer = brain.reasoning.tokenizer
    prompt = tokenizer(question_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    target = tokenizer(answer, add_special_tokens=False)["input_ids"]
    with brain.answering_model(knowledge, question=question if routed else None) as model, torch.no_grad():
        logits = model(torch.tensor([prompt + target])).logits[0, len(prompt) - 1 : -1].float().log_softmax(-1)
    return logits.gather(-1, torch.tensor(target)[:, None]).mean().item()


def _loss_ratio(brain: DualBrain, text: str, routed: bool) -> float:
    """Language-model loss on ``text`` with knowledge (routed to it, or every shard) over the base model's loss."""
    ids = torch.tensor([brain.reasoning.tokenizer(text, add_special_tokens=False)["input_ids"]])
    losses = []
    for knowledge in (True, False):
        with brain.answering_model(knowledge, question=text if routed else None) as model, torch.no_grad():
            losses.append(model(ids, labels=ids).loss.item())
    return losses[0] / losses[1]


def _mean(values) -> float:
    return round(statistics.fmean(list(values)), 4)


def changes_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    add, up, fo = report["time_to_knowledge"], report["updates"], report["forgetting"]
    lines = [
        f"# dualbrain bench changes — {report['base_model']}", "",
        "## Time to knowledge", "",
        "| base chars | added chars | seconds until answerable (short-term) | accuracy added, short-term "
        "| rag-bm25 | from short-term | seconds until in weights | shards (characters) trained | accuracy added, weights "
        "| full retrain | earlier before | earlier, short-term | earlier after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {add['base_characters']} | {add['document_characters']} | {add['seconds_until_answerable']} | "
        f"{add['accuracy_added_short_term']} | {add['accuracy_added_rag_bm25']} | {add['share_from_short_term']} | "
        f"{add['seconds_until_in_weights']} | {add['shards_trained']} ({add['characters_trained']}) | "
        f"{add['accuracy_added']} | {add.get('accuracy_added_full_retrain', '–')} | {add['accuracy_earlier_before']} | "
        f"{add['accuracy_earlier_short_term']} | {add['accuracy_earlier_after']} |", "",
        "## Updates (new editions, same file names)", "",
        "| changed facts | answered with new value | with old value | learn seconds | shards (characters) retrained |",
        "|---|---|---|---|---|",
        f"| {up['changed_facts']} | {up['share_new_value']} | {up['share_old_value']} | {up['learn_seconds']} | "
        f"{up['shards_trained']} ({up['characters_trained']}) |", "",
        f"## Forgetting {fo['document']}", "",
        "| | canary log-prob | loss ratio forgotten doc | loss ratio never-seen docs | canary log-prob, all shards "
        "| loss ratio forgotten, all shards | loss ratio never-seen, all shards | accuracy other orgs |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {when} | {s['canary_logprob']} | {s['loss_ratio_forgotten']} | {s['loss_ratio_never_seen']} | "
          f"{s['canary_logprob_all_shards']} | {s['loss_ratio_forgotten_all_shards']} | {s['loss_ratio_never_seen_all_shards']} | "
          f"{s['accuracy_others']} |" for when, s in (("before", fo["before"]), ("after", fo["after"]))],
        f"| never-saw reference | {fo['never_saw']['canary_logprob']} | {fo['never_saw']['loss_ratio_forgotten']} | "
        f"{fo['never_saw']['loss_ratio_never_seen']} | {fo['never_saw']['canary_logprob_all_shards']} | "
        f"{fo['never_saw']['loss_ratio_forgotten_all_shards']} | {fo['never_saw']['loss_ratio_never_seen_all_shards']} | – |",
        f"| plain base model | {fo['canary_logprob_base_model']} | 1.0 | 1.0 | – | – | – | – |", "",
        f"Forget took {fo['forget_seconds']} s ({fo['shards_retrained']} shard, {fo['characters_retrained']} characters "
        f"retrained; versions deleted: "
        f"{', '.join(fo['versions_deleted']) or 'none'}).",
    ]
    return "\n".join(lines) + "\n"
