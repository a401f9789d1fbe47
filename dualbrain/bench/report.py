"""Write a benchmark report as JSON (everything), Markdown (tables) and PNG (accuracy chart)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; the box may have no display
import matplotlib.pyplot as plt  # noqa: E402

from dualbrain.bench.fictional import QUESTION_KINDS  # noqa: E402
from dualbrain.store import atomic_write_bytes, atomic_write_text  # noqa: E402


def write_report(report: dict, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md", "chart": out_dir / "accuracy.png"}
    atomic_write_text(paths["json"], json.dumps(report, indent=2))
    atomic_write_text(paths["markdown"], to_markdown(report))
    atomic_write_bytes(paths["chart"], _chart_png(report))
    return paths


def to_markdown(report: dict) -> str:
    summary = report["summary"]
    kinds = [k for k in QUESTION_KINDS if any(k in s["by_kind"] for s in summary.values())]
    lines = [
        "# dualbrain benchmark",
        "",
        f"Base model: {report['base_model']}; machine: {report['machine']['cpus']} CPUs, torch {report['machine']['torch']}; "
        f"config: {json.dumps(report['config'])}.",
        f"Learning: {report['learning']['wall_seconds']} s wall, {report['learning']['tokens_trained']} tokens trained, "
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
    lines += ["", "`unanswerable` is the share of abstentions; `accuracy` averages the answerable kinds.", ""]
    return "\n".join(lines)


def _chart_png(report: dict) -> bytes:
    summary = report["summary"]
    kinds = [k for k in QUESTION_KINDS if any(k in s["by_kind"] for s in summary.values())]
    figure, axes = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(summary), 1)
    for index, (system, s) in enumerate(summary.items()):
        positions = [k + index * width for k in range(len(kinds))]
        axes.bar(positions, [s["by_kind"].get(kind, 0.0) for kind in kinds], width, label=system)
    axes.set_xticks([k + 0.4 - width / 2 for k in range(len(kinds))], kinds)
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy")
    axes.set_title(f"dualbrain bench — {report['base_model']}")
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
