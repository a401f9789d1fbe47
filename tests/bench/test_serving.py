"""`bench serving` on a tiny model: parallel chats while the worker process learns and publishes.

This is the concurrency test of the server: every request answered, both versions seen, and every answer
exactly what its version answers alone (a request that mixed versions or shards would differ).
"""

import json
from pathlib import Path

from dualbrain.bench.serving import ServingConfig, run_serving, serving_markdown
from tests.settings import FAST


def test_chats_keep_being_answered_while_a_new_version_is_published(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run_serving(ServingConfig(clients=8, questions=3, max_tokens=6), tmp_path, tiny_model_dir, FAST)
    learning, summary = report["learning"], report["summary"]
    assert learning["status"] == "done" and learning["version_before"] != learning["version_after"]
    assert summary["errors"] == 0 and summary["answered"] == summary["requests"] >= 16  # each client before and after
    assert set(summary["versions"]) == {learning["version_before"], learning["version_after"]}
    assert summary["differing_from_their_version"] == 0  # the old version's answers with the upload in its short-term memory
    assert summary["memories"].get("short-term", 0) + summary["memories"].get("both", 0) > 0  # the upload answered at once
    assert summary["latency_p50"] <= summary["latency_p95"] <= summary["latency_max"]
    assert summary["idle_latency_p50"] > 0 and summary["slowdown_while_learning_p50"] > 0
    assert "| 0 |" in serving_markdown(report)
    json.dumps(report)
