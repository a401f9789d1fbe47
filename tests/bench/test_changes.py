"""`bench changes` on a tiny model: the path runs and the bookkeeping figures are what the design implies."""

import json
from pathlib import Path

from dualbrain.bench.changes import ChangesConfig, changes_markdown, run_changes
from tests.settings import FAST


def test_changes_report(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run_changes(ChangesConfig(base=2, max_new_tokens=4, reference=True), tmp_path, tiny_model_dir, FAST)
    add, updates, forgetting = report["time_to_knowledge"], report["updates"], report["forgetting"]
    assert add["shards_trained"] == 1  # one new shard, nothing retrained
    assert 0 < add["seconds_until_answerable"] < add["seconds_until_in_weights"]  # the short-term memory answers first
    assert add["share_from_short_term"] > 0  # its questions name the new organisation: they route to its passages
    assert all(0 <= add[key] <= 1 for key in ("accuracy_added_short_term", "accuracy_added_rag_bm25", "accuracy_earlier_short_term"))
    assert 0 <= add["accuracy_added_full_retrain"] <= 1
    assert updates["superseded"] == updates["changed_facts"] // 2 == 2 and updates["shards_trained"] == 1
    assert forgetting["document"] == "org00-faq.md" and forgetting["shards_retrained"] == 1
    assert forgetting["versions_deleted"] == ["v0001", "v0002", "v0003"]
    assert forgetting["before"]["canary_logprob"] != forgetting["after"]["canary_logprob"]
    # Exact unlearning: the forgetful base and a base that never saw the document measure the same.
    never_saw, after = forgetting["never_saw"], forgetting["after"]
    assert never_saw.pop("same_shards") and never_saw == {key: after[key] for key in never_saw}
    assert "## Forgetting org00-faq.md" in changes_markdown(report)
    json.dumps(report)
